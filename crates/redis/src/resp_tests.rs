use super::*;
use proptest::prelude::*;

fn parse(bytes: &[u8]) -> Result<Reply, RedisError> {
    read_reply(&mut io::BufReader::new(bytes), &Limits::default())
}

fn parse_with(bytes: &[u8], limits: Limits) -> Result<Reply, RedisError> {
    read_reply(&mut io::BufReader::new(bytes), &limits)
}

#[test]
fn commands_are_arrays_of_bulk_strings() {
    let mut out = Vec::new();
    write_command(&mut out, &[b"GET", b"k\r\n"]).unwrap();
    assert_eq!(out, b"*2\r\n$3\r\nGET\r\n$3\r\nk\r\n\r\n");
}

#[test]
fn resp2_replies_of_every_kind() {
    assert_eq!(parse(b"+OK\r\n").unwrap(), Reply::Simple("OK".into()));
    assert_eq!(
        parse(b"-NOSCRIPT x\r\n").unwrap(),
        Reply::Error("NOSCRIPT x".into())
    );
    assert_eq!(parse(b":-42\r\n").unwrap(), Reply::Integer(-42));
    assert_eq!(parse(b"$-1\r\n").unwrap(), Reply::Nil);
    assert_eq!(parse(b"*-1\r\n").unwrap(), Reply::Nil);
    assert_eq!(
        parse(b"$4\r\na\r\nb\r\n").unwrap(),
        Reply::Bulk(b"a\r\nb".to_vec())
    );
    assert_eq!(
        parse(b"*2\r\n:1\r\n*1\r\n$0\r\n\r\n").unwrap(),
        Reply::Array(vec![
            Reply::Integer(1),
            Reply::Array(vec![Reply::Bulk(Vec::new())])
        ])
    );
}

#[test]
fn resp3_replies_of_every_kind() {
    assert_eq!(parse(b"_\r\n").unwrap(), Reply::Nil);
    assert_eq!(parse(b"#t\r\n").unwrap(), Reply::Boolean(true));
    assert_eq!(parse(b"#f\r\n").unwrap(), Reply::Boolean(false));
    assert_eq!(
        parse(b",-1.5e3\r\n").unwrap(),
        Reply::Double("-1.5e3".into())
    );
    assert_eq!(parse(b",inf\r\n").unwrap(), Reply::Double("inf".into()));
    assert_eq!(
        parse(b"(3492890328409238509324850943850943825024385\r\n").unwrap(),
        Reply::BigNumber("3492890328409238509324850943850943825024385".into())
    );
    assert_eq!(
        parse(b"!5\r\nERR x\r\n").unwrap(),
        Reply::Error("ERR x".into())
    );
    assert_eq!(
        parse(b"=7\r\ntxt:abc\r\n").unwrap(),
        Reply::Bulk(b"abc".to_vec())
    );
    assert_eq!(
        parse(b"~2\r\n:1\r\n:2\r\n").unwrap(),
        Reply::Array(vec![Reply::Integer(1), Reply::Integer(2)])
    );
    assert_eq!(
        parse(b"%1\r\n+server\r\n+redis\r\n").unwrap(),
        Reply::Map(vec![(
            Reply::Simple("server".into()),
            Reply::Simple("redis".into())
        )])
    );
    // An invalidation push, and the null key list a FLUSHALL sends.
    assert_eq!(
        parse(b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n").unwrap(),
        Reply::Push(vec![
            Reply::Bulk(b"invalidate".to_vec()),
            Reply::Array(vec![Reply::Bulk(b"k".to_vec())])
        ])
    );
    assert_eq!(
        parse(b">2\r\n$10\r\ninvalidate\r\n_\r\n").unwrap(),
        Reply::Push(vec![Reply::Bulk(b"invalidate".to_vec()), Reply::Nil])
    );
    // An attribute is read and dropped; the reply after it is the reply.
    assert_eq!(
        parse(b"|1\r\n+ttl\r\n:3\r\n:7\r\n").unwrap(),
        Reply::Integer(7)
    );
}

#[test]
fn bad_bytes_are_errors() {
    for bad in [
        &b""[..],
        b"+OK",
        b"+OK\n",
        b"\r\n",
        b"?x\r\n",
        b":12a\r\n",
        b"$-2\r\n",
        b"$99999999999\r\n",
        b"$3\r\nab\r\n",
        b"$2\r\nabcd",
        b"*-5\r\n",
        b"*2\r\n:1\r\n",
        b"#x\r\n",
        b",\r\n",
        b",1;\r\n",
        b"(12a\r\n",
        b"_x\r\n",
        b"=2\r\nab\r\n",
        b">-1\r\n",
        b"%-1\r\n",
        b"%1\r\n+k\r\n",
        b"*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n",
    ] {
        assert!(parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
    }
    let long = [
        b"+".as_slice(),
        &vec![b'a'; Limits::default().max_line + 10],
        b"\r\n",
    ]
    .concat();
    assert!(parse(&long).is_err());
    // A chain of empty attributes is bounded by the depth, not by the stack.
    assert!(parse(&b"|0\r\n".repeat(100_000)).is_err());
}

#[test]
fn one_reply_shares_one_budget() {
    let limits = Limits {
        max_elements: 5,
        max_reply_bytes: 8,
        ..Limits::default()
    };
    // Each array is within the count, together they are not.
    assert!(parse_with(b"*2\r\n*2\r\n:1\r\n:2\r\n*2\r\n:3\r\n:4\r\n", limits).is_err());
    assert!(parse_with(b"*2\r\n*1\r\n:1\r\n*1\r\n:3\r\n", limits).is_ok());
    // Each string is within the bytes, together they are not.
    assert!(parse_with(b"*2\r\n$5\r\naaaaa\r\n$5\r\nbbbbb\r\n", limits).is_err());
    assert!(parse_with(b"*2\r\n$4\r\naaaa\r\n$4\r\nbbbb\r\n", limits).is_ok());
}

#[test]
fn a_length_the_server_does_not_deliver_allocates_nothing_up_front() {
    // 60 MiB promised, three bytes sent: an error at the end of input, not a 60 MiB buffer
    // (the allocation is what arrives; this would abort under a tight allocator if not).
    let err = parse(b"$62914560\r\nabc").unwrap_err();
    assert!(matches!(err, RedisError::Io(_)), "{err}");
    let err = parse(b"*1048576\r\n:1\r\n").unwrap_err();
    assert!(matches!(err, RedisError::Io(_)), "{err}");
}

proptest! {
    /// Any bytes: a reply or an error, never a panic.
    #[test]
    fn any_bytes_parse_or_fail_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse(&bytes);
    }

    /// Any bytes after a valid prefix: likewise.
    #[test]
    fn framed_garbage_parses_or_fails_cleanly(
        prefix in proptest::sample::select(vec![
            "*3\r\n", "$5\r\n", ":", "*1\r\n$", "+", ">2\r\n", "%1\r\n", "|1\r\n", "=5\r\n", "~1\r\n",
        ]),
        bytes in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let _ = parse(&[prefix.as_bytes(), &bytes].concat());
    }

    /// What a command encodes, a RESP reader reads back as the same arguments.
    #[test]
    fn commands_read_back_as_their_arguments(
        args in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 1..6),
    ) {
        let mut buf = Vec::new();
        let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        encode_command(&mut buf, &refs);
        let back = parse(&buf).unwrap();
        prop_assert_eq!(back, Reply::Array(args.into_iter().map(Reply::Bulk).collect()));
    }
}

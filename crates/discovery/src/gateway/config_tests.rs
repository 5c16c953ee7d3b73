use super::*;

const GOOD: &str = r#"
listen = "127.0.0.1:8080"
admin = "127.0.0.1:9901"

[[services]]
name = "api"
endpoints = ["127.0.0.1:9001", "[::1]:9002"]

[[routes]]
host = "API.example.com"
prefix = "/api/"
service = "api"
policy = "least-requests"
timeout_ms = 250
retries = 1
retry_budget = 0.1
rate_limit = 500
breaker = true
strip_prefix = true

[[routes]]
prefix = "/"
service = "api"
"#;

#[test]
fn a_good_file_parses_with_defaults_filled_in() {
    let c = Config::parse("gw.toml", GOOD).unwrap();
    assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.admin.unwrap().port(), 9901);
    let RegistryConfig::Static(services) = &c.registry else {
        panic!("static by default")
    };
    assert_eq!(services[0].1.len(), 2);
    let (a, b) = (&c.routes[0], &c.routes[1]);
    assert_eq!(a.host.as_deref(), Some("api.example.com"), "lower case");
    assert_eq!(
        (a.policy, a.timeout_ms, a.retries, a.rate_limit),
        (Policy::LeastRequests, 250, 1, Some((500, 50)))
    );
    assert!(a.breaker && a.strip_prefix);
    assert_eq!(
        (
            b.policy,
            b.timeout_ms,
            b.retries,
            b.retry_budget,
            b.rate_limit,
            b.breaker
        ),
        (Policy::PeakEwma, 1_000, 2, 0.2, None, false)
    );
}

/// The one-line-per-problem heads of the error for `text`: `file:line:column: message`.
fn problems(text: &str) -> Vec<String> {
    let e = Config::parse("gw.toml", text).unwrap_err();
    e.to_string()
        .lines()
        .filter(|l| l.starts_with("gw.toml:"))
        .map(str::to_string)
        .collect()
}

#[test]
fn each_problem_names_file_line_and_field() {
    let text = GOOD
        .replace("\"127.0.0.1:8080\"", "\"localhost:8080\"")
        .replace("\"least-requests\"", "\"fastest\"")
        .replace("retry_budget = 0.1", "retry_budget = 1.5")
        .replace("timeout_ms = 250", "timeout_ms = 0")
        .replace("\"[::1]:9002\"", "\"0.0.0.0:9002\"")
        .replace(
            "prefix = \"/\"\nservice = \"api\"",
            "prefix = \"/\"\nservice = \"apj\"",
        );
    let found = problems(&text);
    let expected = [
        "gw.toml:2:10: listen: \"localhost:8080\" is not IP:PORT",
        "gw.toml:7:32: services[0].endpoints[1]: 0.0.0.0:9002 cannot be connected to",
        "gw.toml:13:10: routes[0].policy: unknown policy \"fastest\"",
        "gw.toml:14:14: routes[0].timeout_ms: must be more than 0",
        "gw.toml:16:16: routes[0].retry_budget: 1.5 is not between 0 and 1",
        "gw.toml:23:11: routes[1].service: no service \"apj\" is listed",
    ];
    for want in expected {
        assert!(
            found.iter().any(|f| f == want),
            "missing {want:?} in {found:#?}"
        );
    }
    assert_eq!(found.len(), expected.len(), "{found:#?}");
}

#[test]
fn syntax_errors_and_unknown_fields_point_at_their_place() {
    let found = problems(&GOOD.replace("retries = 1", "retires = 1"));
    assert_eq!(found.len(), 1);
    assert!(
        found[0].starts_with("gw.toml:15:1: unknown field `retires`"),
        "{found:?}"
    );
    let found = problems(&GOOD.replace("rate_limit = 500", "rate_limit = \"500\""));
    assert!(
        found[0].starts_with("gw.toml:17:14: invalid type"),
        "{found:?}"
    );
    let found = problems("listen = \"127.0.0.1:80\"\n[[routes]\n");
    assert!(found[0].starts_with("gw.toml:2:"), "{found:?}");
    let found = problems("[[routes]]\nprefix = \"/\"\nservice = \"a\"\n");
    assert!(found[0].contains("missing field `listen`"), "{found:?}");
}

#[test]
fn the_registry_section_is_checked() {
    let etcd = "listen = \"127.0.0.1:0\"\n[registry]\nkind = \"etcd\"\naddress = \"127.0.0.1:2379\"\n[[routes]]\nprefix = \"/\"\nservice = \"x\"\n";
    let c = Config::parse("gw.toml", etcd).unwrap();
    assert_eq!(
        c.registry,
        RegistryConfig::Etcd {
            address: "127.0.0.1:2379".parse().unwrap(),
            prefix: "/dsys/services/".into(),
            timeout_ms: 2_000,
        }
    );
    let found = problems(&etcd.replace("address = \"127.0.0.1:2379\"\n", ""));
    assert_eq!(
        found,
        ["gw.toml:3:8: registry.address: missing (kind = \"etcd\" needs it)"]
    );
    let served = etcd
        .replace("\"etcd\"", "\"served\"")
        .replace("address", "listen");
    assert!(matches!(
        Config::parse("gw.toml", &served).unwrap().registry,
        RegistryConfig::Served { .. }
    ));
    let remote = etcd.replace("\"etcd\"", "\"http\"");
    assert!(matches!(
        Config::parse("gw.toml", &remote).unwrap().registry,
        RegistryConfig::Remote {
            timeout_ms: 2_000,
            ..
        }
    ));
    let found = problems(&format!(
        "{remote}[[services]]\nname = \"x\"\nendpoints = []\n"
    ));
    assert_eq!(
        found,
        ["gw.toml:9:8: services: listed, but the registry is http"]
    );
    let found = problems(&etcd.replace("\"etcd\"\n", "\"consul\"\n"));
    assert_eq!(
        found,
        ["gw.toml:3:8: registry.kind: unknown kind \"consul\""]
    );
    let found = problems("listen = \"127.0.0.1:0\"\n");
    assert!(found[0].contains("routes: there are none"), "{found:?}");
}

#[test]
fn rate_limits_need_a_positive_rate_and_burst() {
    let found = problems(&GOOD.replace("rate_limit = 500", "rate_limit = 0"));
    assert_eq!(
        found,
        ["gw.toml:17:14: routes[0].rate_limit: must be more than 0"]
    );
    let found = problems(&GOOD.replace("rate_limit = 500", "rate_limit = 5\nburst = 0"));
    assert_eq!(
        found,
        ["gw.toml:18:9: routes[0].burst: must be more than 0"]
    );
    let found = problems(&GOOD.replace("rate_limit = 500", "burst = 5"));
    assert_eq!(
        found,
        ["gw.toml:17:9: routes[0].burst: a burst without a rate_limit"]
    );
    let found = problems(&GOOD.replace("prefix = \"/api/\"", "prefix = \"api\""));
    assert_eq!(
        found,
        ["gw.toml:11:10: routes[0].prefix: \"api\" does not start with /"]
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
    /// Whatever bytes the file holds: an answer, never a panic.
    #[test]
    fn hostile_files_are_refused_cleanly(text in "\\PC{0,300}") {
        let _ = Config::parse("gw.toml", &text);
    }

    /// A good file with one line replaced by garbage: an error naming a line.
    #[test]
    fn a_damaged_line_is_named(line in 1usize..23, junk in "[=\\[\\]\"a-z0-9 ]{1,20}") {
        let mut lines: Vec<&str> = GOOD.lines().collect();
        lines[line] = &junk;
        let text = lines.join("\n");
        if let Err(e) = Config::parse("gw.toml", &text) {
            proptest::prop_assert!(e.to_string().starts_with("gw.toml:"));
        }
    }
}

#[test]
fn a_sidecar_needs_a_registry_to_register_in_and_an_address_to_be_reached_at() {
    let good = "listen = \"127.0.0.1:0\"\n[registry]\nkind = \"http\"\naddress = \"127.0.0.1:8500\"\n[sidecar]\nservice = \"orders\"\nid = \"orders-1\"\napp = \"127.0.0.1:9000\"\ninbound = \"127.0.0.1:0\"\nca = \"ca\"\n";
    let c = Config::parse("gw.toml", good).unwrap();
    let s = c.sidecar.unwrap();
    assert_eq!(
        (s.service.as_str(), s.ttl_ms, s.app.port()),
        ("orders", 5_000, 9000)
    );
    assert!(c.routes.is_empty(), "a sidecar needs no routes");
    let found = problems(&good.replace(
        "kind = \"http\"\naddress = \"127.0.0.1:8500\"",
        "kind = \"static\"",
    ));
    assert_eq!(
        found,
        ["gw.toml:3:8: sidecar: a static registry has no room for the sidecar's registration"]
    );
    let found = problems(&good.replace("inbound = \"127.0.0.1:0\"", "inbound = \"0.0.0.0:15443\""));
    assert_eq!(
        found,
        ["gw.toml:9:11: sidecar.inbound: other sidecars need an address they can reach"]
    );
    let found = problems(&good.replace("id = \"orders-1\"", "id = \"orders 1\""));
    assert!(
        found[0].starts_with("gw.toml:6:11: sidecar.service/id: bad name"),
        "{found:?}"
    );
    let found = problems(&good.replace("ca = \"ca\"\n", "ca = \"ca\"\nttl_ms = 0\n"));
    assert_eq!(
        found,
        ["gw.toml:11:10: sidecar.ttl_ms: must be more than 0"]
    );
}

#[test]
fn health_checks_are_tcp_or_a_path_with_a_positive_interval() {
    let with = |extra: &str| {
        GOOD.replace(
            "strip_prefix = true",
            &format!("strip_prefix = true\n{extra}"),
        )
    };
    let c = Config::parse(
        "gw.toml",
        &with("health_check = \"/healthz\"\nhealth_interval_ms = 250"),
    )
    .unwrap();
    assert_eq!(
        c.routes[0].health,
        Some((
            Probe::Http {
                path: "/healthz".into()
            },
            250
        ))
    );
    let c = Config::parse("gw.toml", &with("health_check = \"tcp\"")).unwrap();
    assert_eq!(c.routes[0].health, Some((Probe::Tcp, 1_000)));
    assert_eq!(c.routes[1].health, None);
    let found = problems(&with("health_check = \"udp\""));
    assert_eq!(
        found,
        ["gw.toml:20:16: routes[0].health_check: \"udp\" is neither \"tcp\" nor a path"]
    );
    let found = problems(&with("health_check = \"tcp\"\nhealth_interval_ms = 0"));
    assert_eq!(
        found,
        ["gw.toml:21:22: routes[0].health_interval_ms: must be more than 0"]
    );
    let found = problems(&with("health_interval_ms = 100"));
    assert_eq!(
        found,
        ["gw.toml:20:22: routes[0].health_interval_ms: without a health_check"]
    );
}

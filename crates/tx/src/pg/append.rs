//! Appending on PostgreSQL: one plain statement for the commonest append (one event at
//! a known version), `dsys_insert_at` for batches and several streams; gapless positions
//! in commit order under the appends' lock.

use super::*;

/// The versions an append's streams start at if its expectations hold, where they say:
/// `None` if any stream's expectation gives no version.
pub(super) fn starts_from_expectations(appends: &[StreamAppend<'_>]) -> Option<Vec<u64>> {
    appends
        .iter()
        .map(|a| match a.expected {
            Expected::NoStream => Some(0),
            Expected::Exact(v) => v.checked_add(1),
            Expected::Any | Expected::StreamExists => None,
        })
        .collect()
}

/// Call `dsys_insert_at` for `appends` at `starts`: where they went, or `None` if a
/// stream was not where `starts` says or an id was already stored (nothing written).
pub(super) fn insert_at(
    client: &mut impl GenericClient,
    statements: &AppendStatements,
    appends: &[StreamAppend<'_>],
    starts: &[u64],
) -> Result<Option<Vec<Appended>>, StoreError> {
    let count: usize = appends.iter().map(|a| a.events.len()).sum();
    let mut streams = Vec::with_capacity(count);
    let mut versions = Vec::with_capacity(count);
    let mut ids = Vec::with_capacity(count);
    let mut kinds = Vec::with_capacity(count);
    let mut schemas = Vec::with_capacity(count);
    let mut data = Vec::with_capacity(count);
    let mut metadata = Vec::with_capacity(count);
    for (a, &start) in appends.iter().zip(starts) {
        for (i, e) in a.events.iter().enumerate() {
            let version = i64::try_from(start + i as u64).map_err(|_| {
                StoreError::BadAppend(format!("stream {:?} past version 2^63", a.stream))
            })?;
            let schema = i32::try_from(e.version).map_err(|_| {
                StoreError::BadAppend(format!("schema version {} over 2^31", e.version))
            })?;
            streams.push(a.stream);
            versions.push(version);
            ids.push(e.id.0.to_be_bytes().to_vec());
            kinds.push(e.kind.as_str());
            schemas.push(schema);
            data.push(e.data.as_slice());
            metadata.push(e.metadata.as_slice());
        }
    }
    let names: Vec<&str> = appends.iter().map(|a| a.stream).collect();
    // Below 2^63: every version given was checked above.
    let firsts: Vec<i64> = starts.iter().map(|&v| v as i64).collect();
    let statement = statements.insert_at(client)?;
    let row = client
        .query_one(
            &statement,
            &[
                &names, &firsts, &streams, &versions, &ids, &kinds, &schemas, &data, &metadata,
            ],
        )
        .map_err(storage)?;
    let Some(first) = row.try_get::<_, Option<i64>>(0).map_err(storage)? else {
        return Ok(None);
    };
    let mut next = first as u64;
    Ok(Some(
        appends
            .iter()
            .zip(starts)
            .map(|(a, &start)| {
                let done = Appended {
                    first_position: next,
                    last_version: start + a.events.len() as u64 - 1,
                };
                next += a.events.len() as u64;
                done
            })
            .collect(),
    ))
}

/// Send [`INSERT_ONE`] for `e` into `stream` at version `start`: where it went, or
/// `None` if refused (nothing written; the careful way finds out why).
pub(super) fn insert_one(
    client: &mut impl GenericClient,
    statements: &AppendStatements,
    stream: &str,
    e: &NewEvent,
    start: u64,
) -> Result<Option<Vec<Appended>>, StoreError> {
    let (Ok(version), Ok(schema)) = (i64::try_from(start), i32::try_from(e.version)) else {
        return Ok(None); // out of range: the careful way says so
    };
    let id = e.id.0.to_be_bytes();
    let statement = statements.insert_one(client)?;
    let rows = client
        .query(
            &statement,
            &[
                &stream,
                &version,
                &id.as_slice(),
                &e.kind.as_str(),
                &schema,
                &e.data.as_slice(),
                &e.metadata.as_slice(),
            ],
        )
        .map_err(storage)?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let position: i64 = row.try_get(0).map_err(storage)?;
    Ok(Some(vec![Appended {
        first_position: position as u64,
        last_version: start,
    }]))
}

/// What the store holds under each of `a`'s event ids.
pub(super) fn stored(
    client: &mut impl GenericClient,
    statements: &AppendStatements,
    a: &StreamAppend<'_>,
) -> Result<Vec<Option<RecordedEvent>>, StoreError> {
    let ids: Vec<Vec<u8>> = a
        .events
        .iter()
        .map(|e| e.id.0.to_be_bytes().to_vec())
        .collect();
    let statement = statements.stored(client)?;
    let rows = client.query(&statement, &[&ids]).map_err(storage)?;
    let mut found: Vec<Option<RecordedEvent>> = vec![None; a.events.len()];
    for row in &rows {
        let event = decode(row)?;
        if let Some(i) = a.events.iter().position(|e| e.id == event.event.id) {
            found[i] = Some(event);
        }
    }
    Ok(found)
}

pub(super) fn current_version(
    client: &mut impl GenericClient,
    statements: &AppendStatements,
    stream: &str,
) -> Result<Option<u64>, StoreError> {
    let statement = statements.version(client)?;
    let row = client.query_one(&statement, &[&stream]).map_err(storage)?;
    Ok(row
        .try_get::<_, Option<i64>>(0)
        .map_err(storage)?
        .map(|v| v as u64))
}

/// An append through `client`, which may be a transaction of the caller's: the events
/// then commit (and become visible) with it.
pub(super) fn append_with(
    client: &mut impl GenericClient,
    statements: &AppendStatements,
    appends: &[StreamAppend<'_>],
) -> Result<Vec<Appended>, StoreError> {
    check_append(appends)?;
    if let Some(starts) = starts_from_expectations(appends) {
        if let (
            [
                StreamAppend {
                    stream,
                    events: [e],
                    ..
                },
            ],
            &[start],
        ) = (appends, &starts[..])
        {
            if let Some(done) = insert_one(client, statements, stream, e, start)? {
                return Ok(done);
            }
        }
        if let Some(done) = insert_at(client, statements, appends, &starts)? {
            return Ok(done);
        }
    }
    // Another writer may move a stream between the read and the insert; each turn round
    // means one did, so this ends when writers stop racing on these streams.
    loop {
        let resends = appends
            .iter()
            .map(|a| resend_of(a, &stored(client, statements, a)?))
            .collect::<Result<Vec<_>, _>>()?;
        let starts = match decide(appends, resends, |s| current_version(client, statements, s))? {
            Decision::Resent(first) => return Ok(first),
            Decision::Write(starts) => starts,
        };
        if let Some(done) = insert_at(client, statements, appends, &starts)? {
            return Ok(done);
        }
    }
}

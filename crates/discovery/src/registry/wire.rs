//! The embedded registry over HTTP: one JSON request and reply per [`Registry`] call, so
//! the processes of one machine share a registry that one of them holds (the gateway,
//! with `[registry] kind = "served"`), through [`RemoteRegistry`] or plain `curl`.
//!
//! Every call is `POST /v1/<call>` with a JSON object; a success is `200` with a JSON
//! object, a refusal `4xx` with `{"error": KIND, "message": TEXT}` (and `"oldest"` for
//! `compacted`):
//!
//! | call          | request                                                   | reply                          |
//! |---------------|-----------------------------------------------------------|--------------------------------|
//! | `register`    | `service`, `id`, `address` (`IP:PORT`), `zone`?, `ttl_ms` | `lease`                        |
//! | `keep_alive`  | `lease`                                                   | `{}`                           |
//! | `deregister`  | `lease`                                                   | `{}`                           |
//! | `list`        | `service`                                                 | `revision`, `instances`        |
//! | `changes`     | `service`, `after`                                        | `revision`, `changes`          |
//!
//! An instance is `{"service", "id", "address", "zone"?}`; a change `{"put": INSTANCE}` or
//! `{"delete": ID}`. Whatever comes in is checked as [`Instance::new`] checks it: a bad
//! address or name is refused, never stored or routed to.
//!
//! [`RemoteRegistry`]: super::RemoteRegistry

#[cfg(feature = "gateway")]
use super::Registry;
use super::{Change, Instance, LeaseId, RegistryError};
use serde_json::{Value, json};

/// An instance as JSON.
pub(crate) fn instance_json(i: &Instance) -> Value {
    let mut v = json!({ "service": i.service, "id": i.id, "address": i.address.to_string() });
    if let Some(zone) = &i.zone {
        v["zone"] = json!(zone);
    }
    v
}

fn text<'a>(v: &'a Value, field: &str) -> Result<&'a str, RegistryError> {
    v[field]
        .as_str()
        .ok_or_else(|| RegistryError::BadName(format!("{field}: missing or not a string")))
}

#[cfg(feature = "gateway")] // the server side: the gateway serves the registry
fn number(v: &Value, field: &str) -> Result<u64, RegistryError> {
    v[field]
        .as_u64()
        .ok_or_else(|| RegistryError::BadName(format!("{field}: missing or not a whole number")))
}

/// An instance from JSON, checked.
pub(crate) fn instance_from(v: &Value) -> Result<Instance, RegistryError> {
    let instance = Instance::new(text(v, "service")?, text(v, "id")?, text(v, "address")?)?;
    match &v["zone"] {
        Value::Null => Ok(instance),
        Value::String(zone)
            if !zone.is_empty()
                && zone.len() <= 253
                && zone.chars().all(|c| c.is_ascii_graphic()) =>
        {
            Ok(instance.in_zone(zone.clone()))
        }
        _ => Err(RegistryError::BadName("zone: not a printable name".into())),
    }
}

#[cfg(feature = "gateway")] // the server side: the gateway serves the registry
fn change_json(c: &Change) -> Value {
    match c {
        Change::Put(i) => json!({ "put": instance_json(i) }),
        Change::Delete { id } => json!({ "delete": id }),
    }
}

pub(crate) fn change_from(v: &Value) -> Result<Change, RegistryError> {
    match (&v["put"], &v["delete"]) {
        (put @ Value::Object(_), Value::Null) => Ok(Change::Put(instance_from(put)?)),
        (Value::Null, Value::String(id)) => Ok(Change::Delete { id: id.clone() }),
        _ => Err(RegistryError::Unavailable(
            "a change neither put nor delete".into(),
        )),
    }
}

#[cfg(feature = "gateway")] // the server side: the gateway serves the registry
/// A refusal as its status and JSON.
pub(crate) fn error_json(e: &RegistryError) -> (u16, Value) {
    let (status, kind) = match e {
        RegistryError::BadAddress(_) => (400, "bad_address"),
        RegistryError::BadName(_) => (400, "bad_name"),
        RegistryError::ZeroTtl => (400, "zero_ttl"),
        RegistryError::LeaseGone(_) => (404, "lease_gone"),
        RegistryError::Compacted { .. } => (410, "compacted"),
        RegistryError::Unavailable(_) => (503, "unavailable"),
    };
    let mut v = json!({ "error": kind, "message": e.to_string() });
    match e {
        RegistryError::Compacted { oldest } => v["oldest"] = json!(oldest),
        RegistryError::LeaseGone(lease) => v["lease"] = json!(lease.0),
        _ => {}
    }
    (status, v)
}

/// A refusal from its JSON (what [`error_json`] wrote), or `Unavailable` saying what came.
pub(crate) fn error_from(status: u16, v: &Value) -> RegistryError {
    let message = v["message"].as_str().unwrap_or("no message").to_string();
    let detail = message
        .split_once(": ")
        .map_or(message.clone(), |(_, d)| d.to_string());
    match v["error"].as_str() {
        Some("bad_address") => RegistryError::BadAddress(detail),
        Some("bad_name") => RegistryError::BadName(detail),
        Some("zero_ttl") => RegistryError::ZeroTtl,
        Some("lease_gone") => RegistryError::LeaseGone(LeaseId(v["lease"].as_u64().unwrap_or(0))),
        Some("compacted") => RegistryError::Compacted {
            oldest: v["oldest"].as_u64().unwrap_or(0),
        },
        _ => RegistryError::Unavailable(format!("HTTP {status}: {message}")),
    }
}

#[cfg(feature = "gateway")] // the server side: the gateway serves the registry
/// Answer one call on `registry`: the status and JSON reply for `POST /v1/<call>` with
/// `body` (the server's whole job).
pub(crate) fn answer(registry: &impl Registry, call: &str, body: &[u8]) -> (u16, Value) {
    use super::Listing;
    use std::time::Duration;
    let request: Value = match serde_json::from_slice(body) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            return (
                400,
                json!({ "error": "bad_request", "message": "the body must be a JSON object" }),
            );
        }
    };
    let result = match call {
        "register" => number(&request, "ttl_ms").and_then(|ttl| {
            let lease = registry.register(instance_from(&request)?, Duration::from_millis(ttl))?;
            Ok(json!({ "lease": lease.0 }))
        }),
        "keep_alive" => number(&request, "lease")
            .and_then(|l| registry.keep_alive(LeaseId(l)))
            .map(|()| json!({})),
        "deregister" => number(&request, "lease")
            .and_then(|l| registry.deregister(LeaseId(l)))
            .map(|()| json!({})),
        "list" => text(&request, "service").and_then(|s| {
            let Listing {
                revision,
                instances,
            } = registry.list(s)?;
            let instances: Vec<Value> = instances.iter().map(instance_json).collect();
            Ok(json!({ "revision": revision, "instances": instances }))
        }),
        "changes" => text(&request, "service").and_then(|s| {
            let (changes, revision) = registry.changes(s, number(&request, "after")?)?;
            let changes: Vec<Value> = changes.iter().map(change_json).collect();
            Ok(json!({ "revision": revision, "changes": changes }))
        }),
        _ => {
            return (
                404,
                json!({ "error": "no_such_call", "message": format!("no call {call:?}: register, keep_alive, deregister, list, changes") }),
            );
        }
    };
    match result {
        Ok(v) => (200, v),
        Err(e) => error_json(&e),
    }
}

#[cfg(all(test, feature = "gateway"))]
mod tests {
    use super::*;
    use crate::registry::{MemoryRegistry, Registry};
    use dsys_resilience::ManualClock;

    fn call(r: &MemoryRegistry<ManualClock>, call: &str, body: Value) -> (u16, Value) {
        answer(r, call, body.to_string().as_bytes())
    }

    #[test]
    fn each_call_answers_as_the_registry_does() {
        let r = MemoryRegistry::new(ManualClock::new(), 16);
        let (status, reply) = call(
            &r,
            "register",
            json!({ "service": "api", "id": "a", "address": "127.0.0.1:9001", "zone": "z1", "ttl_ms": 5000 }),
        );
        assert_eq!(status, 200, "{reply}");
        let lease = reply["lease"].as_u64().unwrap();
        let (_, listed) = call(&r, "list", json!({ "service": "api" }));
        let instances = listed["instances"].as_array().unwrap();
        let back = instance_from(&instances[0]).unwrap();
        assert_eq!(
            back,
            Instance::new("api", "a", "127.0.0.1:9001")
                .unwrap()
                .in_zone("z1")
        );
        assert_eq!(call(&r, "keep_alive", json!({ "lease": lease })).0, 200);
        assert_eq!(call(&r, "deregister", json!({ "lease": lease })).0, 200);
        let (status, gone) = call(&r, "keep_alive", json!({ "lease": lease }));
        assert_eq!(status, 404);
        assert_eq!(
            error_from(status, &gone),
            RegistryError::LeaseGone(LeaseId(lease))
        );
        let (_, changes) = call(&r, "changes", json!({ "service": "api", "after": 0 }));
        let changes: Vec<Change> = changes["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| change_from(c).unwrap())
            .collect();
        assert_eq!(
            changes,
            [Change::Put(back), Change::Delete { id: "a".into() }]
        );
    }

    #[test]
    fn a_bad_address_or_name_is_refused_and_never_stored() {
        let r = MemoryRegistry::new(ManualClock::new(), 16);
        for (address, id, kind) in [
            ("0.0.0.0:80", "a", "bad_address"),
            ("127.0.0.1:0", "a", "bad_address"),
            ("localhost:80", "a", "bad_address"),
            ("127.0.0.1:80", "", "bad_name"),
            ("127.0.0.1:80", "a b", "bad_name"),
        ] {
            let (status, reply) = call(
                &r,
                "register",
                json!({ "service": "api", "id": id, "address": address, "ttl_ms": 5000 }),
            );
            assert_eq!(
                (status, reply["error"].as_str()),
                (400, Some(kind)),
                "{address} {id:?}"
            );
        }
        let (status, reply) = call(
            &r,
            "register",
            json!({ "service": "api", "id": "a", "address": "127.0.0.1:80" }),
        );
        assert_eq!(
            (status, reply["error"].as_str()),
            (400, Some("bad_name")),
            "no ttl_ms"
        );
        assert_eq!(
            call(&r, "list", json!({ "service": "api" })).1["instances"],
            json!([])
        );
    }

    #[test]
    fn compaction_and_unknown_calls_say_so() {
        let r = MemoryRegistry::new(ManualClock::new(), 1);
        for id in ["a", "b", "c"] {
            let body =
                json!({ "service": "api", "id": id, "address": "127.0.0.1:9", "ttl_ms": 5000 });
            assert_eq!(call(&r, "register", body).0, 200);
        }
        let (status, reply) = call(&r, "changes", json!({ "service": "api", "after": 0 }));
        assert_eq!(status, 410);
        assert!(
            matches!(error_from(status, &reply), RegistryError::Compacted { oldest } if oldest > 1)
        );
        assert_eq!(call(&r, "drop_tables", json!({})).0, 404);
    }

    proptest::proptest! {
        /// Whatever a client sends: an answer, never a panic, and nothing stored unless it
        /// was a whole, valid registration.
        #[test]
        fn hostile_bodies_get_an_answer(body in proptest::collection::vec(proptest::num::u8::ANY, 0..200), which in 0usize..6) {
            let r = MemoryRegistry::new(ManualClock::new(), 16);
            let name = ["register", "keep_alive", "deregister", "list", "changes", "x"][which];
            let (status, reply) = answer(&r, name, &body);
            proptest::prop_assert!(status == 200 || reply["error"].is_string());
            proptest::prop_assert_eq!(r.list("api").unwrap().instances.len(), 0);
        }
    }
}

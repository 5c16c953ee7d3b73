//! The registry in etcd, through its JSON gateway (`/v3/...` on the client port): plain
//! HTTP/1.1 and JSON, no gRPC stack.
//!
//! A registration is a key `{prefix}{service}/{id}` whose value names the address (and
//! zone), attached to an etcd lease with the registration's time to live: when the
//! instance stops keeping the lease alive, etcd deletes the key. A watcher's catching up
//! is the difference between the service's keys at the revision it last heard and now,
//! both read from etcd's multi-version store; if etcd has compacted that revision away,
//! it says so and the watcher lists again. Nothing is lost either way, and nothing needs a
//! connection held open: a watcher that was away (etcd restarted, the network cut) simply
//! asks again from the revision it had.
//!
//! What etcd holds is checked like any input: a value that is not a registration, or
//! names an address that cannot be routed to, is left out of every listing (and counted),
//! never routed to.

use crate::base64;

use super::{Change, Instance, LeaseId, Listing, Registry, RegistryError};
use crate::http;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A registry kept in one etcd.
#[derive(Debug)]
pub struct EtcdRegistry {
    addr: SocketAddr,
    prefix: String,
    timeout: Duration,
    rejected: AtomicU64,
}

/// A service's keys at one revision: id → (instance, the key's mod revision).
type Keys = BTreeMap<String, (Instance, i64)>;

impl EtcdRegistry {
    /// The registry under `prefix` in the etcd whose client URL is `http://addr`.
    /// etcd is asked at once: one that cannot be reached is
    /// [`RegistryError::Unavailable`] within `timeout`, not a hang.
    pub fn connect(
        addr: SocketAddr,
        prefix: impl Into<String>,
        timeout: Duration,
    ) -> Result<EtcdRegistry, RegistryError> {
        if timeout.is_zero() {
            return Err(RegistryError::Unavailable(
                "a zero timeout would wait for ever".into(),
            ));
        }
        let registry = EtcdRegistry {
            addr,
            prefix: prefix.into(),
            timeout,
            rejected: AtomicU64::new(0),
        };
        registry.call("/v3/maintenance/status", &json!({}))?;
        Ok(registry)
    }

    /// Values found in etcd that were not a registration, or named an address that
    /// cannot be routed to (left out of listings).
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }

    /// Compact etcd's history up to now (as `etcdctl compact` does): watchers behind must
    /// list again.
    pub fn compact(&self) -> Result<(), RegistryError> {
        // The current revision, from a count of this registry's keys (no values read).
        let start = self.prefix.as_bytes();
        let counted = self.call(
            "/v3/kv/range",
            &json!({
                "key": base64::encode(start),
                "range_end": base64::encode(&range_end(start)),
                "count_only": true,
            }),
        )?;
        let revision = number(&counted["header"]["revision"])
            .ok_or_else(|| RegistryError::Unavailable("etcd gave no revision".into()))?;
        self.call(
            "/v3/kv/compaction",
            &json!({ "revision": revision.to_string() }),
        )
        .map(drop)
    }

    fn call(&self, path: &str, body: &Value) -> Result<Value, RegistryError> {
        let unavailable =
            |what: String| RegistryError::Unavailable(format!("etcd at {}: {what}", self.addr));
        let (status, body) =
            http::post(self.addr, path, &body.to_string(), self.timeout).map_err(|e| match e {
                http::HttpError::Io(e) => unavailable(e.to_string()),
                http::HttpError::Malformed(what) => unavailable(what),
            })?;
        let value: Value =
            serde_json::from_slice(&body).map_err(|e| unavailable(format!("not JSON: {e}")))?;
        if status == 200 {
            return Ok(value);
        }
        let message = value["message"]
            .as_str()
            .unwrap_or("no message")
            .to_string();
        match value["code"].as_i64() {
            // OutOfRange: "required revision has been compacted".
            Some(11) => Err(RegistryError::Compacted { oldest: 0 }),
            Some(5) => Err(RegistryError::Unavailable(format!("not found: {message}"))),
            _ => Err(unavailable(format!("HTTP {status}: {message}"))),
        }
    }

    /// The keys of `service` ("" for every service) at `revision` (`None`: now), and the
    /// revision read.
    fn keys(&self, service: &str, revision: Option<u64>) -> Result<(Keys, u64), RegistryError> {
        let start = if service.is_empty() {
            self.prefix.clone()
        } else {
            format!("{}{service}/", self.prefix)
        };
        let mut request = json!({
            "key": base64::encode(start.as_bytes()),
            "range_end": base64::encode(&range_end(start.as_bytes())),
        });
        if let Some(revision) = revision {
            request["revision"] = json!(revision.to_string());
        }
        let reply = self.call("/v3/kv/range", &request)?;
        let read = number(&reply["header"]["revision"])
            .and_then(|r| u64::try_from(r).ok())
            .ok_or_else(|| RegistryError::Unavailable("etcd gave no revision".into()))?;
        let mut keys = Keys::new();
        for kv in reply["kvs"].as_array().map_or(&[][..], Vec::as_slice) {
            match self.decode(kv) {
                Some((instance, modified)) if service.is_empty() || instance.service == service => {
                    keys.insert(instance.id.clone(), (instance, modified));
                }
                Some(_) => {}
                None => {
                    self.rejected.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        Ok((keys, read))
    }

    /// A registration from one key-value, if it is one.
    fn decode(&self, kv: &Value) -> Option<(Instance, i64)> {
        let key = String::from_utf8(base64::decode(kv["key"].as_str()?)?).ok()?;
        let (service, id) = key.strip_prefix(&self.prefix)?.split_once('/')?;
        let value: Value = serde_json::from_slice(&base64::decode(kv["value"].as_str()?)?).ok()?;
        let mut instance = Instance::new(service, id, value["address"].as_str()?).ok()?;
        if let Some(zone) = value["zone"].as_str() {
            instance = instance.in_zone(zone);
        }
        Some((instance, number(&kv["mod_revision"])?))
    }

    fn lease_call(&self, path: &str, lease: LeaseId) -> Result<Value, RegistryError> {
        self.call(path, &json!({ "ID": lease.0.to_string() }))
            .map_err(|e| match e {
                RegistryError::Unavailable(m) if m.starts_with("not found") => {
                    RegistryError::LeaseGone(lease)
                }
                other => other,
            })
    }
}

impl Registry for EtcdRegistry {
    fn register(&self, instance: Instance, ttl: Duration) -> Result<LeaseId, RegistryError> {
        if ttl.is_zero() {
            return Err(RegistryError::ZeroTtl);
        }
        // etcd's leases are in whole seconds: round up, so a lease never lapses early.
        let seconds = ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0);
        let granted = self.call("/v3/lease/grant", &json!({ "TTL": seconds.to_string() }))?;
        let lease = number(&granted["ID"])
            .map(|id| LeaseId(id as u64))
            .ok_or_else(|| RegistryError::Unavailable("etcd granted no lease".into()))?;
        let key = format!("{}{}/{}", self.prefix, instance.service, instance.id);
        let value = json!({ "address": instance.address.to_string(), "zone": instance.zone });
        self.call(
            "/v3/kv/put",
            &json!({
                "key": base64::encode(key.as_bytes()),
                "value": base64::encode(value.to_string().as_bytes()),
                "lease": lease.0.to_string(),
            }),
        )?;
        Ok(lease)
    }

    fn keep_alive(&self, lease: LeaseId) -> Result<(), RegistryError> {
        let reply = self.lease_call("/v3/lease/keepalive", lease)?;
        // A lease that is gone answers with no time to live left.
        match number(&reply["result"]["TTL"]) {
            Some(ttl) if ttl > 0 => Ok(()),
            _ => Err(RegistryError::LeaseGone(lease)),
        }
    }

    fn deregister(&self, lease: LeaseId) -> Result<(), RegistryError> {
        self.lease_call("/v3/lease/revoke", lease).map(drop)
    }

    fn list(&self, service: &str) -> Result<Listing, RegistryError> {
        let (keys, revision) = self.keys(service, None)?;
        Ok(Listing {
            revision,
            instances: keys.into_values().map(|(i, _)| i).collect(),
        })
    }

    fn changes(&self, service: &str, after: u64) -> Result<(Vec<Change>, u64), RegistryError> {
        let (now, revision) = self.keys(service, None)?;
        if after > revision {
            // A revision from an etcd that has since lost its data: start again.
            return Err(RegistryError::Compacted { oldest: revision });
        }
        let before = match after {
            0 => Keys::new(),
            _ => match self.keys(service, Some(after)) {
                Ok((keys, _)) => keys,
                Err(RegistryError::Compacted { .. }) => {
                    return Err(RegistryError::Compacted { oldest: after + 1 });
                }
                Err(e) => return Err(e),
            },
        };
        let mut changes: Vec<Change> = before
            .keys()
            .filter(|id| !now.contains_key(*id))
            .map(|id| Change::Delete { id: id.clone() })
            .collect();
        changes.extend(
            now.iter()
                .filter(|(id, (_, modified))| before.get(*id).is_none_or(|(_, m)| m != modified))
                .map(|(_, (instance, _))| Change::Put(instance.clone())),
        );
        Ok((changes, revision))
    }
}

/// etcd's numbers come as JSON strings (64-bit integers), sometimes as numbers.
fn number(value: &Value) -> Option<i64> {
    value
        .as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| value.as_i64())
}

/// The end of the range of keys starting with `prefix` (the prefix with its last byte
/// incremented, carrying over 0xff).
fn range_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

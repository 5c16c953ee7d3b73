//! A registry another process serves over HTTP (the protocol of [`super::wire`]): for the
//! processes of one machine, sharing the registry the gateway holds.

use super::wire::{change_from, error_from, instance_from, instance_json};
use super::{Change, Instance, LeaseId, Listing, Registry, RegistryError};
use crate::http;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;

/// The registry served at `http://addr/v1/`.
#[derive(Clone, Debug)]
pub struct RemoteRegistry {
    addr: SocketAddr,
    timeout: Duration,
}

impl RemoteRegistry {
    /// The registry served at `addr`, asked at once: one that cannot be reached is
    /// [`RegistryError::Unavailable`] within `timeout`, not a hang.
    pub fn connect(addr: SocketAddr, timeout: Duration) -> Result<RemoteRegistry, RegistryError> {
        if timeout.is_zero() {
            return Err(RegistryError::Unavailable(
                "a zero timeout would wait for ever".into(),
            ));
        }
        let registry = RemoteRegistry { addr, timeout };
        registry.list("-")?;
        Ok(registry)
    }

    fn call(&self, call: &str, body: &Value) -> Result<Value, RegistryError> {
        let unavailable =
            |what: String| RegistryError::Unavailable(format!("registry at {}: {what}", self.addr));
        let (status, body) = http::post(
            self.addr,
            &format!("/v1/{call}"),
            &body.to_string(),
            self.timeout,
        )
        .map_err(|e| match e {
            http::HttpError::Io(e) => unavailable(e.to_string()),
            http::HttpError::Malformed(what) => unavailable(what),
        })?;
        let value: Value =
            serde_json::from_slice(&body).map_err(|e| unavailable(format!("not JSON: {e}")))?;
        match status {
            200 => Ok(value),
            _ => Err(error_from(status, &value)),
        }
    }
}

fn whole(v: &Value, field: &str) -> Result<u64, RegistryError> {
    v[field]
        .as_u64()
        .ok_or_else(|| RegistryError::Unavailable(format!("the registry's reply has no {field}")))
}

fn array<'a>(v: &'a Value, field: &str) -> Result<&'a Vec<Value>, RegistryError> {
    v[field]
        .as_array()
        .ok_or_else(|| RegistryError::Unavailable(format!("the registry's reply has no {field}")))
}

impl Registry for RemoteRegistry {
    fn register(&self, instance: Instance, ttl: Duration) -> Result<LeaseId, RegistryError> {
        let mut body = instance_json(&instance);
        body["ttl_ms"] = json!(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX));
        whole(&self.call("register", &body)?, "lease").map(LeaseId)
    }

    fn keep_alive(&self, lease: LeaseId) -> Result<(), RegistryError> {
        self.call("keep_alive", &json!({ "lease": lease.0 }))
            .map(drop)
    }

    fn deregister(&self, lease: LeaseId) -> Result<(), RegistryError> {
        self.call("deregister", &json!({ "lease": lease.0 }))
            .map(drop)
    }

    fn list(&self, service: &str) -> Result<Listing, RegistryError> {
        let reply = self.call("list", &json!({ "service": service }))?;
        // An instance the server should never have kept (a bad address) is refused here
        // too: never routed to.
        let instances = array(&reply, "instances")?
            .iter()
            .map(instance_from)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Listing {
            revision: whole(&reply, "revision")?,
            instances,
        })
    }

    fn changes(&self, service: &str, after: u64) -> Result<(Vec<Change>, u64), RegistryError> {
        let reply = self.call("changes", &json!({ "service": service, "after": after }))?;
        let changes = array(&reply, "changes")?
            .iter()
            .map(change_from)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((changes, whole(&reply, "revision")?))
    }
}

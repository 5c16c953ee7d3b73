//! The `[sidecar]` table: this proxy as the sidecar of one service instance.
//!
//! ```toml
//! listen = "127.0.0.1:15001"      # outbound: the app sends plain HTTP here, the Host
//!                                 # header naming the service it calls
//! [registry]                      # served, http or etcd: the sidecar registers in it
//! kind = "http"
//! address = "127.0.0.1:8500"
//! [sidecar]
//! service = "orders"              # the instance's service and id in the registry
//! id = "orders-1"
//! app = "127.0.0.1:9000"          # the app itself, plain HTTP, knowing nothing of dsys
//! inbound = "127.0.0.1:15443"     # mutual TLS: other sidecars call here (registered)
//! ca = "ca"                       # the local certificate authority's directory
//! ttl_ms = 5000                   # the registration's lease (optional)
//! ```

use super::{File, Port, Problems, RegistryConfig, address};
use crate::registry::Instance;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SidecarFile {
    service: Spanned<String>,
    id: Spanned<String>,
    app: Spanned<String>,
    inbound: Spanned<String>,
    ca: String,
    ttl_ms: Option<Spanned<u64>>,
    zone: Option<String>,
}

/// A sidecar's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Sidecar {
    /// The instance's service.
    pub service: String,
    /// Its id within the service.
    pub id: String,
    /// Its zone, if any.
    pub zone: Option<String>,
    /// The app, plain HTTP.
    pub app: SocketAddr,
    /// Where other sidecars call, over mutual TLS (the registered address).
    pub inbound: SocketAddr,
    /// The local certificate authority's directory.
    pub ca: PathBuf,
    /// The registration's lease (ms).
    pub ttl_ms: u64,
}

pub(super) fn check(
    p: &mut Problems<'_>,
    s: &SidecarFile,
    file: &File,
    registry: Option<&RegistryConfig>,
) -> Option<Sidecar> {
    if matches!(registry, Some(RegistryConfig::Static(_))) {
        let span = file
            .registry
            .as_ref()
            .map_or(s.service.span(), |r| r.kind.span());
        p.at(
            span,
            "sidecar: a static registry has no room for the sidecar's registration".into(),
            "use [registry] kind = \"served\", \"http\" or \"etcd\"",
        );
    }
    let names = Instance::new(s.service.get_ref(), s.id.get_ref(), "127.0.0.1:1");
    if let Err(e) = names {
        p.at(
            s.service.span().start..s.id.span().end,
            format!("sidecar.service/id: {e}"),
            "printable names without spaces",
        );
    }
    let app = address(p, "sidecar.app", &s.app, Port::Given);
    let inbound = address(p, "sidecar.inbound", &s.inbound, Port::Any);
    if inbound.is_some_and(|a| a.ip().is_unspecified()) {
        p.at(
            s.inbound.span(),
            "sidecar.inbound: other sidecars need an address they can reach".into(),
            "name the IP to register, such as 127.0.0.1:15443",
        );
    }
    let ttl_ms = match &s.ttl_ms {
        Some(t) if *t.get_ref() == 0 => {
            p.at(
                t.span(),
                "sidecar.ttl_ms: must be more than 0".into(),
                "a lease of a few seconds, such as 5000",
            );
            None
        }
        Some(t) => Some(*t.get_ref()),
        None => Some(5_000),
    };
    Some(Sidecar {
        service: s.service.get_ref().clone(),
        id: s.id.get_ref().clone(),
        zone: s.zone.clone(),
        app: app?,
        inbound: inbound?,
        ca: PathBuf::from(&s.ca),
        ttl_ms: ttl_ms?,
    })
}

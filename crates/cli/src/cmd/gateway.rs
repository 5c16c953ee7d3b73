//! `dsys gateway`: check a configuration, or serve it until stopped.

use crate::args::GatewayArgs;
use crate::exit::{Exit, Failure};
use crate::output::Output;
use dsys_discovery::gateway::{Gateway, GatewayError, load};

fn failure(e: GatewayError) -> Failure {
    let exit = match e {
        GatewayError::Config(_) | GatewayError::Reload(_) => Exit::BadInput,
        GatewayError::Read { .. } | GatewayError::Listen { .. } | GatewayError::Registry(_) => {
            Exit::Io
        }
        GatewayError::Runtime(_) => Exit::Internal,
    };
    Failure::new(exit, e)
}

pub fn gateway(a: GatewayArgs, out: Output) -> Result<(), Failure> {
    let config = load(&a.config).map_err(failure)?;
    let routes: Vec<String> = config
        .routes
        .iter()
        .map(|r| {
            format!(
                "  {}{} -> {} ({}, timeout {} ms, {} retries)",
                r.host.as_deref().unwrap_or(""),
                r.prefix,
                r.service,
                r.policy.name(),
                r.timeout_ms,
                r.retries
            )
        })
        .collect();
    if a.check {
        return out.print(&format!(
            "{}: ok, {} routes\n{}\n",
            a.config.display(),
            routes.len(),
            routes.join("\n")
        ));
    }
    let gateway =
        Gateway::start(config, Some(a.config.clone()), usize::from(a.workers)).map_err(failure)?;
    let admin = gateway
        .admin_address()
        .map(|a| format!(", admin on http://{a}"))
        .unwrap_or_default();
    let registry = gateway
        .registry_address()
        .map(|a| format!(", registry on http://{a}/v1/"))
        .unwrap_or_default();
    let inbound = gateway
        .inbound_address()
        .map(|a| format!(", sidecars call on {a} (mutual TLS)"))
        .unwrap_or_default();
    out.print(&format!(
        "listening on http://{}{admin}{registry}{inbound}\n{}\n",
        gateway.listen_address(),
        routes.join("\n")
    ))?;
    gateway.wait();
    Ok(())
}

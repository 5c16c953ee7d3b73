//! `dsys gateway`: check a configuration, or serve it until stopped.

use crate::args::GatewayArgs;
use crate::exit::{Exit, Failure};
use crate::output::Output;
use dsys_discovery::gateway::{Config, Gateway, GatewayError, RegistryConfig, load};

fn failure(e: GatewayError) -> Failure {
    let exit = match &e {
        GatewayError::Config(_) | GatewayError::Reload(_) => Exit::BadInput,
        GatewayError::Read(read) if read.is_bad_input() => Exit::BadInput,
        GatewayError::Read(_) | GatewayError::Listen { .. } | GatewayError::Registry(_) => Exit::Io,
        GatewayError::Runtime(_) => Exit::Internal,
    };
    Failure::new(exit, e)
}

/// What a configuration sets up, a line each: its routes, its sidecar, its registry.
fn describe(config: &Config) -> Vec<String> {
    let mut lines: Vec<String> = config
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
    if let Some(s) = &config.sidecar {
        lines.push(format!(
            "  sidecar of {} ({}): app {}, inbound {} (mutual TLS)",
            s.service, s.id, s.app, s.inbound
        ));
    }
    lines.push(match &config.registry {
        RegistryConfig::Static(services) => {
            format!("  registry: {} services listed", services.len())
        }
        RegistryConfig::Served { listen, .. } => format!("  registry: served on {listen}"),
        RegistryConfig::Remote { address, .. } => format!("  registry: served at {address}"),
        RegistryConfig::Etcd {
            address, prefix, ..
        } => format!("  registry: etcd at {address}, keys under {prefix}"),
    });
    lines
}

pub fn gateway(a: GatewayArgs, out: Output) -> Result<(), Failure> {
    let config = load(&a.config).map_err(failure)?;
    let described = describe(&config).join("\n");
    if a.check {
        return out.print(&format!("{}: ok\n{described}\n", a.config.display()));
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
        "listening on http://{}{admin}{registry}{inbound}\n{described}\n",
        gateway.listen_address()
    ))?;
    gateway.wait();
    Ok(())
}

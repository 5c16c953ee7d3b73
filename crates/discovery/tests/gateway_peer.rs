//! The gateway benchmark's set-up, run as a test so it cannot rot: the backend, the
//! gateway and nginx (its peer) each answer the load generator; nginx leaves nothing
//! behind when stopped. The figures come from `cargo bench --bench gateway`.

#![allow(clippy::unwrap_used)] // tests may panic

use dsys_discovery::gateway::backend::Backend;
use dsys_discovery::gateway::load::{Stop, closed_loop};
use dsys_discovery::gateway::{Config, Gateway};
use dsys_services::ReverseProxy;
use std::time::Duration;

#[test]
fn the_backend_the_gateway_and_nginx_each_answer_every_request() {
    let backend = Backend::start("127.0.0.1:0".parse().unwrap(), "b", Duration::ZERO, 1).unwrap();
    let config = Config::parse(
        "peer",
        &format!(
            "listen = \"127.0.0.1:0\"\n[[services]]\nname = \"b\"\nendpoints = [\"{}\"]\n[[routes]]\nprefix = \"/\"\nservice = \"b\"\n",
            backend.address()
        ),
    )
    .unwrap();
    let gateway = Gateway::start(config, None, 1).unwrap();
    let Some(nginx) = ReverseProxy::start(backend.address(), 1) else {
        return;
    };
    for target in [backend.address(), gateway.listen_address(), nginx.address()] {
        let load = closed_loop(target, "/", 4, Stop::After(400), 1).unwrap();
        assert_eq!((load.latencies.len(), load.failed), (400, 0), "{target}");
        assert!(load.quantile(0.5) > Duration::ZERO);
    }
    // Each proxy's requests reached the backend: 3 x 400.
    assert_eq!(backend.served(), 1_200);
    let address = nginx.address();
    drop(nginx);
    assert!(
        std::net::TcpStream::connect(address).is_err(),
        "nginx stopped"
    );
}

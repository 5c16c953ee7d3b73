//! nginx as a reverse proxy on 127.0.0.1, for benchmarks that compare a proxy with it:
//! its own configuration and files in a directory of its own, in the foreground as a
//! child process, stopped and cleaned up when dropped.

use super::{Kind, free_port, may_skip};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running nginx proxying every request to one upstream over keep-alive connections.
#[derive(Debug)]
pub struct ReverseProxy {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl ReverseProxy {
    /// nginx with `workers` worker processes, proxying to `upstream`; `None` (with a
    /// note) where it is not installed and not required.
    ///
    /// # Panics
    /// If it is required but missing, or does not start within 10 s.
    pub fn start(upstream: SocketAddr, workers: usize) -> Option<ReverseProxy> {
        if may_skip(Kind::Nginx) {
            return None;
        }
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("dsys-nginx-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("nginx directory");
        let d = dir.display();
        // The same job as the gateway's: HTTP/1.1 to the upstream over pooled keep-alive
        // connections, no access log, nothing buffered to disk for small bodies, and no
        // limit on requests per connection either side (nginx closes one after 1,000 by
        // default; the gateway never does).
        let config = format!(
            "worker_processes {workers};\n\
             error_log {d}/error.log warn;\n\
             pid {d}/nginx.pid;\n\
             events {{ worker_connections 4096; }}\n\
             http {{\n\
               access_log off;\n\
               client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;\n\
               fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n\
               keepalive_requests 100000000;\n\
               upstream backend {{ server {upstream}; keepalive 128; keepalive_requests 100000000; }}\n\
               server {{\n\
                 listen 127.0.0.1:{port};\n\
                 location / {{\n\
                   proxy_pass http://backend;\n\
                   proxy_http_version 1.1;\n\
                   proxy_set_header Connection \"\";\n\
                 }}\n\
               }}\n\
             }}\n"
        );
        std::fs::write(dir.join("nginx.conf"), config).expect("nginx.conf");
        let child = Command::new("/usr/sbin/nginx")
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run nginx");
        let proxy = ReverseProxy { child, dir, port };
        for _ in 0..200 {
            if TcpStream::connect(proxy.address()).is_ok() {
                return Some(proxy);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let log = std::fs::read_to_string(proxy.dir.join("error.log")).unwrap_or_default();
        panic!("nginx did not start within 10 s: {log}");
    }

    /// Where it listens.
    pub fn address(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }
}

impl Drop for ReverseProxy {
    fn drop(&mut self) {
        // `nginx -s stop` sends the master SIGTERM, and it stops its workers; a SIGKILL
        // of the master alone would leave them running. SIGKILL only if it hangs.
        let _ = Command::new("/usr/sbin/nginx")
            .arg("-p")
            .arg(&self.dir)
            .arg("-c")
            .arg(self.dir.join("nginx.conf"))
            .args(["-s", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        for _ in 0..100 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

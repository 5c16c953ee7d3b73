//! `scripts/services.sh` against what another user (or an earlier crash) may leave in the
//! temporary area: a planted symlink where its directory should be, a directory someone
//! else owns, and stale pid files naming processes that are not its servers. Each is
//! refused or ignored, and nothing outside is touched. No server needs to be installed.

#![allow(clippy::unwrap_used)] // tests may panic

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/services.sh")
}

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dsys-script-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn services(root: &Path, args: &[&str]) -> Output {
    Command::new("bash")
        .arg(script())
        .args(args)
        .env("DSYS_SERVICES_DIR", root)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_planted_symlink_is_refused_and_its_target_untouched() {
    let dir = scratch("symlink");
    let victim = dir.join("victim");
    std::fs::create_dir(&victim).unwrap();
    let planted = dir.join("services");
    std::os::unix::fs::symlink(&victim, &planted).unwrap();
    for args in [["start", "redis", "6390"], ["stop", "redis", "6390"]] {
        let o = services(&planted, &args);
        assert!(!o.status.success(), "{args:?}");
        assert!(stderr(&o).contains("refusing to use it"), "{}", stderr(&o));
    }
    assert_eq!(
        std::fs::read_dir(&victim).unwrap().count(),
        0,
        "nothing written"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_directory_of_another_user_is_refused() {
    // Only root can give a directory away; others have nothing to show here.
    let root = Command::new("id").arg("-u").output().unwrap();
    if String::from_utf8_lossy(&root.stdout).trim() != "0" {
        eprintln!("not root: cannot make a directory another user owns; skipped");
        return;
    }
    let dir = scratch("foreign");
    let foreign = dir.join("services");
    std::fs::create_dir(&foreign).unwrap();
    let chown = Command::new("chown")
        .args(["nobody", foreign.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(chown.success());
    let o = services(&foreign, &["stop", "nats", "4300"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("belongs to another user"),
        "{}",
        stderr(&o)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_stale_pid_file_never_signals_someone_else() {
    let dir = scratch("stale");
    let root = dir.join("services");
    // A process that is not a server, under a pid file where redis's would be.
    let mut bystander = Command::new("sleep").arg("60").spawn().unwrap();
    for (name, port) in [("redis", "6391"), ("etcd", "2390"), ("nats", "4301")] {
        let server = root.join(format!("{name}-{port}"));
        std::fs::create_dir_all(&server).unwrap();
        std::fs::write(server.join("pid"), bystander.id().to_string()).unwrap();
        let o = services(&root, &["stop", name, port]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        assert!(!server.exists(), "{name}: its directory is removed");
    }
    // `kill` (a crash on purpose) too, with a pid file of garbage beside it.
    let server = root.join("redis-6392");
    std::fs::create_dir_all(&server).unwrap();
    std::fs::write(server.join("pid"), bystander.id().to_string()).unwrap();
    assert!(services(&root, &["kill", "redis", "6392"]).status.success());
    std::fs::write(server.join("pid"), "1; rm -rf /").unwrap();
    assert!(services(&root, &["kill", "redis", "6392"]).status.success());
    assert!(
        bystander.try_wait().unwrap().is_none(),
        "the bystander was signalled"
    );
    bystander.kill().unwrap();
    bystander.wait().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

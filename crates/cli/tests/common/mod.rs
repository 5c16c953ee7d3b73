//! Running the `dsys` binary from integration tests.

#![allow(dead_code)] // each test crate uses its own subset

pub mod drawing;
pub mod runnable;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};

/// Run `dsys` with `args`.
pub fn dsys(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dsys"))
        .args(args)
        .output()
        .expect("run dsys")
}

/// Run `dsys` with `args` in `dir` (for commands that name files relative to it).
pub fn dsys_in<S: AsRef<std::ffi::OsStr>>(dir: &Path, args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dsys"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run dsys")
}

/// Its stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Its stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A file path in a folder of its own under the system's temporary directory; the folder
/// and everything in it are removed when this is dropped, so test runs leave nothing.
pub struct TempPath {
    dir: PathBuf,
    path: PathBuf,
}

impl TempPath {
    /// The path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path as text (temporary paths here are UTF-8).
    pub fn as_str(&self) -> &str {
        self.path.to_str().expect("UTF-8 temporary path")
    }
}

impl AsRef<Path> for TempPath {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

/// So a path can stand where the `dsys` arguments (`&str`) are built.
impl std::ops::Deref for TempPath {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A fresh path ending in `name`, unique within the machine (process id and a counter).
pub fn temp(name: &str) -> TempPath {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "dsys-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    TempPath { dir, path }
}

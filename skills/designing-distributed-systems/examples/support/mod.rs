//! What the examples share: where their store lives. SQLite in a fresh file by default;
//! `--postgres [PARAMS]` for PostgreSQL (a fresh schema named after the example, on the
//! server PARAMS names: libpq style, `host=127.0.0.1 user=postgres dbname=postgres` if
//! left out).

use std::path::PathBuf;

/// Where an example keeps its store.
pub enum Backend {
    /// A fresh SQLite file.
    Sqlite(PathBuf),
    /// Connection parameters for a fresh schema on a PostgreSQL server.
    Postgres(String),
}

/// The store for example `name`, as its command line asks.
pub fn backend(name: &str) -> Result<Backend, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None => {
            let path = std::env::temp_dir().join(format!("dsys-example-{name}.db"));
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
            Ok(Backend::Sqlite(path))
        }
        Some("--postgres") => {
            let server = args
                .get(1)
                .cloned()
                .unwrap_or_else(|| "host=127.0.0.1 user=postgres dbname=postgres".into());
            fresh_schema(&server, name).map(Backend::Postgres)
        }
        Some(other) => Err(format!(
            "unknown argument {other:?}\nusage: cargo run -p dsys-tx --example {name} [-- --postgres [PARAMS]]"
        )),
    }
}

/// Parameters for a fresh schema `dsys_example_NAME` on `server`.
pub fn fresh_schema(server: &str, name: &str) -> Result<String, String> {
    let schema = format!("dsys_example_{name}");
    let mut admin = postgres::Client::connect(server, postgres::NoTls)
        .map_err(|e| format!("connecting to {server:?}: {e}"))?;
    admin
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
        ))
        .map_err(|e| format!("creating schema {schema}: {e}"))?;
    Ok(format!("{server} options='-c search_path={schema}'"))
}

/// Run `example` on the store the command line asks for, printing what it says; exit 1
/// with the error if it fails.
#[macro_export]
macro_rules! run_example {
    ($name:literal, $example:ident) => {{
        let result = match support::backend($name) {
            Err(e) => Err(e),
            Ok(support::Backend::Sqlite(path)) => dsys_tx::SqliteStore::open(&path)
                .map_err(|e| e.to_string())
                .and_then(|db| $example(&db, &mut std::io::stdout()).map_err(|e| e.to_string())),
            Ok(support::Backend::Postgres(params)) => dsys_tx::PostgresStore::open(&params)
                .map_err(|e| e.to_string())
                .and_then(|db| $example(&db, &mut std::io::stdout()).map_err(|e| e.to_string())),
        };
        if let Err(e) = result {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }};
}

/// Tests for an example: it runs on a fresh SQLite file and on a PostgreSQL started by
/// `scripts/services.sh` (skipped where none is installed, unless the test script
/// requires it), and `check` holds for what it printed.
#[macro_export]
macro_rules! test_example {
    ($name:literal, $example:ident, $check:expr) => {
        #[cfg(test)]
        mod tests {
            #![allow(clippy::unwrap_used)] // tests may panic
            use super::*;

            #[test]
            fn runs_on_sqlite() {
                let path = std::env::temp_dir().join(format!(
                    "dsys-example-test-{}-{}.db",
                    $name,
                    std::process::id()
                ));
                let db = dsys_tx::SqliteStore::open(&path).unwrap();
                let mut out = Vec::new();
                $example(&db, &mut out).unwrap();
                ($check)(&String::from_utf8(out).unwrap());
                drop(db);
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }

            #[test]
            fn runs_on_postgres() {
                let Some(server) = dsys_services::Server::start(dsys_services::Kind::Postgres)
                else {
                    return;
                };
                let params = support::fresh_schema(&server.postgres_params(), $name).unwrap();
                let db = dsys_tx::PostgresStore::open(&params).unwrap();
                let mut out = Vec::new();
                $example(&db, &mut out).unwrap();
                ($check)(&String::from_utf8(out).unwrap());
            }
        }
    };
}

//! What the examples that tell a story share: print it, or the error and exit with 1.

use std::fmt::Display;

/// Print `story` on stdout; on an error, print it on stderr and exit with 1.
pub fn tell<E: Display>(story: Result<String, E>) {
    match story {
        Ok(text) => print!("{text}"),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}

//! One module per command: each parses nothing (clap did), calls the libraries, renders,
//! and says how it ended through [`crate::exit::Failure`].

pub mod check;
pub mod completions;
pub mod design;
pub mod gateway;
pub mod grid;
pub mod patterns;
pub mod simulate;

//! `dsys completions SHELL`: completion scripts and the man page, from the same clap
//! definition as the parser, so they cannot drift from it.

use crate::args::{Cli, CompletionTarget, CompletionsArgs};
use crate::exit::{Exit, Failure};
use crate::output::Output;
use clap::CommandFactory;
use clap_complete::Shell;

pub fn completions(a: CompletionsArgs, out: Output) -> Result<(), Failure> {
    let mut command = Cli::command();
    let mut bytes: Vec<u8> = Vec::new();
    let shell = match a.shell {
        CompletionTarget::Bash => Shell::Bash,
        CompletionTarget::Zsh => Shell::Zsh,
        CompletionTarget::Fish => Shell::Fish,
        CompletionTarget::Elvish => Shell::Elvish,
        CompletionTarget::Powershell => Shell::PowerShell,
        CompletionTarget::Man => {
            clap_mangen::Man::new(command)
                .render(&mut bytes)
                .map_err(|e| {
                    Failure::new(Exit::Internal, format!("rendering the man page: {e}"))
                })?;
            return print_bytes(out, bytes);
        }
    };
    clap_complete::generate(shell, &mut command, "dsys", &mut bytes);
    print_bytes(out, bytes)
}

fn print_bytes(out: Output, bytes: Vec<u8>) -> Result<(), Failure> {
    let text = String::from_utf8(bytes)
        .map_err(|e| Failure::new(Exit::Internal, format!("a generated script: {e}")))?;
    Output {
        color: false,
        ..out
    }
    .print(&text)
}

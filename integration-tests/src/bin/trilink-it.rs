//! The `trilink` command, built inside this package so that tests can run it as a separate
//! process (`env!("CARGO_BIN_EXE_trilink-it")`) and kill it with SIGKILL.

#![forbid(unsafe_code)]

use clap::Parser;

fn main() -> std::process::ExitCode {
    trilink_cli::run(trilink_cli::Cli::parse())
}

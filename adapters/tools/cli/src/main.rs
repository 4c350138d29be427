//! `trilink` binary: a thin main over [`trilink_cli::run`].

#![forbid(unsafe_code)]

use clap::Parser;

fn main() -> std::process::ExitCode {
    trilink_cli::run(trilink_cli::Cli::parse())
}

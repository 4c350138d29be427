//! `trilink completions <shell>` and `trilink man`: shell completion scripts and manual pages,
//! generated from the same clap definitions that parse the command line (so they cannot
//! drift from it). Printing only; the command tree is passed in by the caller.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use clap_complete::Shell;

use crate::{EXIT_PROBLEM, EXIT_USAGE};

/// `trilink completions` arguments.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell (bash, zsh, fish, elvish, powershell). Install, e.g. for bash:
    /// `trilink completions bash > /etc/bash_completion.d/trilink` (or
    /// `~/.local/share/bash-completion/completions/trilink`).
    pub shell: Shell,
}

/// `trilink man` arguments.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write one page per command (`trilink.1`, `trilink-adapter.1`, `trilink-policy-test.1`,
    /// …) into this directory instead of printing `trilink.1` to standard output.
    #[arg(long)]
    pub out_dir: Option<PathBuf>,
}

/// Print the completion script for `args.shell`.
pub fn completions(args: &CompletionsArgs, mut cmd: clap::Command) -> ExitCode {
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut cmd, "trilink", &mut out);
    match out.flush() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("trilink completions: {e}");
            ExitCode::from(EXIT_PROBLEM)
        }
    }
}

/// Print `trilink.1`, or write every page into `--out-dir`.
pub fn man(args: &ManArgs, cmd: clap::Command) -> ExitCode {
    let cmd = cmd.disable_help_subcommand(true);
    match &args.out_dir {
        None => {
            let mut out = std::io::stdout().lock();
            match clap_mangen::Man::new(cmd)
                .render(&mut out)
                .and_then(|()| out.flush())
            {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("trilink man: {e}");
                    ExitCode::from(EXIT_PROBLEM)
                }
            }
        }
        Some(dir) => {
            if !dir.is_dir() {
                eprintln!("trilink man: --out-dir {}: not a directory", dir.display());
                return ExitCode::from(EXIT_USAGE);
            }
            match clap_mangen::generate_to(cmd, dir) {
                Ok(()) => {
                    eprintln!("wrote manual pages to {}", dir.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("trilink man: {}: {e}", dir.display());
                    ExitCode::from(EXIT_PROBLEM)
                }
            }
        }
    }
}

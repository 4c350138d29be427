//! `trilink completions` and `trilink man`: generated from the clap definitions, so every
//! command is in them; the bash script really completes, and the pages render with `man`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

mod common;
use common::trilink;

use std::process::Command;

use clap::CommandFactory;
use trilink_cli::Cli;

/// Every command path below `trilink`: `["adapter"]`, `["policy", "test"]`, …
fn command_paths() -> Vec<Vec<String>> {
    fn walk(cmd: &clap::Command, prefix: &[String], out: &mut Vec<Vec<String>>) {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            let mut path = prefix.to_vec();
            path.push(sub.get_name().to_owned());
            out.push(path.clone());
            walk(sub, &path, out);
        }
    }
    let mut out = Vec::new();
    walk(&Cli::command(), &[], &mut out);
    out
}

#[test]
fn bash_completion_mentions_every_command_and_completes() {
    let paths = command_paths();
    assert!(paths.len() > 15, "{paths:?}");
    let o = trilink(&["completions", "bash"]);
    assert_eq!(o.status.code(), Some(0));
    let script = String::from_utf8(o.stdout).unwrap();
    for path in &paths {
        // clap's bash script names each command by its path, a dash in a name included:
        // `trilink__subcmd__policy__subcmd__test`, `…__broker__subcmd__watch__subcmd__leaves`.
        let name = format!(
            "cmd=\"trilink__subcmd__{}\"",
            path.join("__subcmd__").replace('-', "__subcmd__")
        );
        assert!(
            script.contains(&name),
            "bash completion lacks {}",
            path.join(" ")
        );
    }
    // Source it in bash and ask it, as the shell would.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("trilink.bash");
    std::fs::write(&file, &script).unwrap();
    let probe = format!(
        "source {}\n\
         COMP_WORDS=(trilink pol); COMP_CWORD=1; _trilink trilink pol trilink; echo \"1:${{COMPREPLY[*]}}\"\n\
         COMP_WORDS=(trilink policy test --str); COMP_CWORD=3; _trilink trilink --str test; echo \"2:${{COMPREPLY[*]}}\"\n\
         COMP_WORDS=(trilink completions z); COMP_CWORD=2; _trilink trilink z completions; echo \"3:${{COMPREPLY[*]}}\"\n",
        file.display()
    );
    let o = Command::new("bash").arg("-c").arg(probe).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("1:policy\n"), "{out}");
    assert!(out.contains("2:--strict\n"), "{out}");
    assert!(out.contains("3:zsh\n"), "{out}");
}

#[test]
fn other_shells_get_a_script_naming_every_top_level_command() {
    let top: Vec<String> = command_paths()
        .into_iter()
        .filter(|p| p.len() == 1)
        .map(|p| p.concat())
        .collect();
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let o = trilink(&["completions", shell]);
        assert_eq!(o.status.code(), Some(0), "{shell}");
        let script = String::from_utf8(o.stdout).unwrap();
        for name in &top {
            assert!(
                script.contains(name.as_str()),
                "{shell} script lacks {name}"
            );
        }
    }
    let o = trilink(&["completions", "tcsh"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn man_pages_exist_for_every_command_and_render() {
    let o = trilink(&["man"]);
    assert_eq!(o.status.code(), Some(0));
    let page = String::from_utf8(o.stdout).unwrap();
    assert!(
        page.starts_with(".ie") || page.contains(".TH trilink 1"),
        "{page}"
    );
    // NAME reads "trilink \- The trilateral …", not "trilink \- trilink: …".
    let name = page
        .lines()
        .skip_while(|l| !l.starts_with(".SH NAME"))
        .nth(1)
        .unwrap_or_default();
    assert!(
        name.starts_with("trilink \\- ") && !name.contains("trilink: "),
        "{name}"
    );
    let paths = command_paths();
    for path in paths.iter().filter(|p| p.len() == 1) {
        assert!(
            page.contains(&format!("trilink\\-{}(1)", path[0].replace('-', "\\-"))),
            "trilink.1 does not list {}",
            path[0]
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let o = trilink(&["man", "--out-dir", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let man = Command::new("man").arg("--version").output();
    for path in std::iter::once(Vec::new()).chain(paths) {
        let name = std::iter::once("trilink".to_owned())
            .chain(path.iter().cloned())
            .collect::<Vec<_>>()
            .join("-");
        let file = dir.path().join(format!("{name}.1"));
        let roff =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(roff.contains(".SH SYNOPSIS"), "{name}");
        if man.as_ref().is_ok_and(|o| o.status.success()) {
            let o = Command::new("man")
                .arg("-l")
                .arg(&file)
                .env("MANWIDTH", "100")
                .env("MANPAGER", "cat")
                .env("PAGER", "cat")
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&o.stdout);
            assert!(
                o.status.success(),
                "man -l {name}.1: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            assert!(text.contains("SYNOPSIS"), "{name}: {text}");
            // The page's synopsis names the command as typed.
            let typed = std::iter::once("trilink")
                .chain(path.iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join(" ");
            let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(flat.contains(&typed), "{name}: {text}");
        }
    }
    let o = trilink(&["man", "--out-dir", "/nonexistent/dir"]);
    assert_eq!(o.status.code(), Some(2));
}

//! deploy/ says what the binary does: every `deploy/README.md ("Section")` reference in deploy/
//! names a section that exists; none of the claims the binary disproves is back (the relay
//! "exports no metrics", takes "no TRILINK__ overrides", installs "no log subscriber"); and the
//! overrides `/etc/default/trilink-relay` documents reach the relay's configuration; the
//! production nats-server configs in `deploy/etc/trilink/nats` are current renderings of the
//! templates the broker tests run (`deploy/render-nats-confs.sh`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code

use std::path::{Path, PathBuf};
use std::process::Command;

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../deploy")
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else if std::fs::read_to_string(&p).is_ok() {
            out.push(p);
        }
    }
}

#[test]
fn section_references_resolve_and_disproved_claims_stay_out() {
    let readme = std::fs::read_to_string(deploy().join("README.md")).unwrap();
    let headings: Vec<&str> = readme
        .lines()
        .filter_map(|l| l.trim_start_matches('#').strip_prefix(' '))
        .collect();
    let mut all = Vec::new();
    files(&deploy(), &mut all);
    let mut refs = 0;
    for f in &all {
        let text = std::fs::read_to_string(f).unwrap().replace("\n#", " ");
        for marker in ["deploy/README.md (\"", "deploy/README.md, \""] {
            for (i, _) in text.match_indices(marker) {
                let rest = &text[i + marker.len()..];
                let name = rest.split('"').next().unwrap();
                refs += 1;
                assert!(
                    headings
                        .iter()
                        .any(|h| h.trim() == name || h.starts_with(&format!("{name} ("))),
                    "{}: refers to deploy/README.md section {name:?}, which does not exist",
                    f.display()
                );
            }
        }
        let lower = std::fs::read_to_string(f).unwrap().to_lowercase();
        for claim in [
            "exports no metrics",
            "no metrics port",
            "takes no `trilink__",
            "does not take trilink__",
            "install a log subscriber yet",
            "has no environment overrides",
            "takes no environment overrides",
        ] {
            assert!(
                !lower.contains(claim),
                "{}: says {claim:?}, which the binary disproves",
                f.display()
            );
        }
    }
    assert!(refs >= 3, "only {refs} section references found");
    assert!(readme.contains("\n## Checking a configuration\n"));
}

#[test]
fn relay_overrides_documented_in_the_environment_file_take_effect() {
    let env_file = std::fs::read_to_string(deploy().join("etc/default/trilink-relay")).unwrap();
    let var = "TRILINK__ACCOUNT__0__PASSWORD";
    assert!(env_file.contains(var), "{env_file}");
    let o = Command::new(env!("CARGO_BIN_EXE_trilink"))
        .args(["relay", "--print-config", "--config"])
        .arg(deploy().join("etc/trilink/relay.toml"))
        .arg("--policy")
        .arg(deploy().join("../broker-config/policies/default-trilateral.toml"))
        .env(var, "from-the-environment")
        .env("TRILINK__NATS_URL", "nats://hub.example:4222")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.lines()
            .any(|l| l.starts_with("account[0].password = \"****\"")
                && l.ends_with(&format!("# env {var}"))),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("nats_url = \"nats://hub.example:4222\"")
                && l.ends_with("# env TRILINK__NATS_URL")),
        "{out}"
    );
}

/// A permission changed in `broker-config/conf` (and proven by the broker tests) must reach the
/// configs a site installs: the committed renderings equal a fresh one. (The viewers' dead-letter
/// subscriptions once reached the tests but not `deploy/`, and only `deploy/check.sh`, which CI
/// does not run, noticed.)
#[test]
fn production_nats_configs_are_current_renderings_of_the_tested_templates() {
    let out = tempfile::tempdir().unwrap();
    let o = Command::new("sh")
        .arg(deploy().join("render-nats-confs.sh"))
        .arg(out.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let committed = deploy().join("etc/trilink/nats");
    let mut rendered: Vec<_> = std::fs::read_dir(out.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    rendered.sort();
    assert!(rendered.len() >= 5, "{rendered:?}");
    for name in &rendered {
        let fresh = std::fs::read_to_string(out.path().join(name)).unwrap();
        let have = std::fs::read_to_string(committed.join(name)).unwrap_or_default();
        assert!(
            fresh == have,
            "deploy/etc/trilink/nats/{} is stale: run deploy/render-nats-confs.sh",
            name.to_string_lossy()
        );
    }
}

/// compose's relay gets every account password and the hub's URL from its `environment:`
/// (TRILINK__ overrides), with no password left to relay.toml's placeholders and no `sed` copy.
#[test]
fn compose_relay_environment_overrides_every_password() {
    let compose = std::fs::read_to_string(deploy().join("compose.yaml")).unwrap();
    let service: Vec<&str> = compose
        .lines()
        .skip_while(|l| *l != "  relay:")
        .skip(1)
        .take_while(|l| l.is_empty() || l.starts_with("    "))
        .collect();
    assert!(!service.is_empty(), "no relay service in compose.yaml");
    assert!(!service.iter().any(|l| l.contains("sed ")), "{service:?}");
    let env: Vec<(String, String)> = service
        .iter()
        .filter_map(|l| l.trim().split_once(": "))
        .filter(|(k, _)| k.starts_with("TRILINK__"))
        // ${PASS_RELAY_JP:?…} → a value compose would interpolate
        .map(|(k, v)| {
            let v = match v.strip_prefix("${") {
                Some(var) => format!("p{}", var.split([':', '}']).next().unwrap_or_default()),
                None => v.to_owned(),
            };
            (k.to_owned(), v)
        })
        .collect();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trilink"));
    cmd.args(["relay", "--print-config", "--config"])
        .arg(deploy().join("etc/trilink/relay.toml"))
        .arg("--policy")
        .arg(deploy().join("../broker-config/policies/default-trilateral.toml"));
    for (k, v) in &env {
        cmd.env(k, v);
    }
    let o = cmd.output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    for i in 0..3 {
        let var = format!("TRILINK__ACCOUNT__{i}__PASSWORD");
        assert!(
            out.lines()
                .any(|l| l.starts_with(&format!("account[{i}].password"))
                    && l.ends_with(&format!("# env {var}"))),
            "account {i} keeps relay.toml's placeholder:\n{out}{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    assert!(
        out.lines()
            .any(|l| l.starts_with("nats_url = \"nats://hub:4222\"")),
        "{out}"
    );
}

/// The nats-servers' Go GC settings are the same everywhere they are given: the launcher
/// (tests, demo, bench), the systemd environment files, compose and Kubernetes — so what the
/// benchmark measures is what deploy/ runs (issue 17).
#[test]
fn servers_gc_settings_match_the_launcher_everywhere() {
    use trilink_brokers::launcher::{HUB_GOMEMLIMIT, LEAF_GOMEMLIMIT, SERVER_GOGC};
    let read = |p: &str| std::fs::read_to_string(deploy().join(p)).unwrap();
    for (file, limit) in [
        ("etc/default/trilink-nats-hub", HUB_GOMEMLIMIT),
        ("etc/default/trilink-nats-leaf-jp", LEAF_GOMEMLIMIT),
        ("etc/default/trilink-nats-leaf-kr", LEAF_GOMEMLIMIT),
    ] {
        let text = read(file);
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        assert!(
            lines.contains(&format!("GOGC={SERVER_GOGC}").as_str()),
            "{file}"
        );
        assert!(
            lines.contains(&format!("GOMEMLIMIT={limit}").as_str()),
            "{file}"
        );
    }
    // compose: the hub's and each leaf's `environment:`.
    let compose = read("compose.yaml");
    for (service, limit) in [
        ("  hub:", HUB_GOMEMLIMIT),
        ("  leaf-jp:", LEAF_GOMEMLIMIT),
        ("  leaf-kr:", LEAF_GOMEMLIMIT),
    ] {
        let body: Vec<&str> = compose
            .lines()
            .skip_while(|l| *l != service)
            .skip(1)
            .take_while(|l| l.is_empty() || l.starts_with("    "))
            .map(str::trim)
            .collect();
        assert!(
            body.contains(&format!("GOGC: \"{SERVER_GOGC}\"").as_str()),
            "compose {service} {body:?}"
        );
        assert!(
            body.contains(&format!("GOMEMLIMIT: {limit}").as_str()),
            "compose {service} {body:?}"
        );
    }
    for (file, limit) in [
        ("k8s/hub.yaml", HUB_GOMEMLIMIT),
        ("k8s/site-jp.yaml", LEAF_GOMEMLIMIT),
        ("k8s/site-kr.yaml", LEAF_GOMEMLIMIT),
    ] {
        let text = read(file);
        assert!(
            text.contains(&format!("- {{ name: GOGC, value: \"{SERVER_GOGC}\" }}")),
            "{file}"
        );
        assert!(
            text.contains(&format!("- {{ name: GOMEMLIMIT, value: {limit} }}")),
            "{file}"
        );
    }
}

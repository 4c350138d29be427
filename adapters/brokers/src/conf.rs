//! The nats-server configuration templates and their rendering.
//!
//! The templates in `broker-config/conf/` are real nats-server config files with `{{NAME}}`
//! placeholders (ports, data directories, certificate directory, passwords). They are embedded
//! in the binary so `trilink broker up` works from anywhere.

use std::collections::BTreeMap;

/// Hub accounts and users, included by both hub configs.
pub const HUB_ACCOUNTS: &str = include_str!("../../../broker-config/conf/hub-accounts.conf");
/// Single-server hub.
pub const HUB: &str = include_str!("../../../broker-config/conf/hub.conf");
/// One node of the 3-node hub cluster.
pub const HUB_CLUSTER: &str = include_str!("../../../broker-config/conf/hub-cluster.conf");
/// JP leaf.
pub const LEAF_JP: &str = include_str!("../../../broker-config/conf/leaf-jp.conf");
/// KR leaf.
pub const LEAF_KR: &str = include_str!("../../../broker-config/conf/leaf-kr.conf");

/// A placeholder left without a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("config template: placeholder {{{{{0}}}}} has no value")]
pub struct RenderError(pub String);

/// Replace every `{{NAME}}` in `template` by `vars[NAME]`; fails if a placeholder is left.
pub fn render(template: &str, vars: &BTreeMap<String, String>) -> Result<String, RenderError> {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let (before, after) = rest.split_at(start);
        out.push_str(before);
        let body = after.get(2..).unwrap_or_default();
        let Some(end) = body.find("}}") else {
            out.push_str(after);
            rest = "";
            continue;
        };
        let name = body.get(..end).unwrap_or_default();
        let is_placeholder = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
        if is_placeholder {
            let value = vars.get(name).ok_or_else(|| RenderError(name.to_owned()))?;
            out.push_str(value);
            rest = body.get(end + 2..).unwrap_or_default();
        } else {
            out.push_str("{{");
            rest = body;
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_refuses_missing_values() {
        let mut vars = BTreeMap::new();
        vars.insert("A".to_owned(), "1".to_owned());
        assert_eq!(
            render("x {{A}} y {{ not }}", &vars).unwrap(),
            "x 1 y {{ not }}"
        );
        assert_eq!(render("{{B}}", &vars), Err(RenderError("B".to_owned())));
    }

    #[test]
    fn templates_name_only_known_placeholders() {
        let known = [
            "SERVER_NAME",
            "CLIENT_PORT",
            "MONITOR_PORT",
            "STORE_DIR",
            "LEAF_PORT",
            "CERT_DIR",
            "CLUSTER_PORT",
            "ROUTES",
            "HUB_LEAF_URLS",
            "LEAF_CERT",
            "LEAF_CA",
            "PASS_RELAY_JP",
            "PASS_RELAY_KR",
            "PASS_RELAY_US",
            "PASS_ADMIN_JP",
            "PASS_ADMIN_KR",
            "PASS_ADMIN_US",
            "PASS_ADAPTER_JP",
            "PASS_ADAPTER_KR",
            "PASS_ADAPTER_US",
            "PASS_VIEWER_JP",
            "PASS_VIEWER_KR",
            "PASS_VIEWER_US",
            "PASS_SYS",
            "PASS_ROUTE",
            "PASS_LEAF_JP_SYS",
            "PASS_LEAF_JP_ADMIN",
            "PASS_LEAF_KR_SYS",
            "PASS_LEAF_KR_ADMIN",
        ];
        let vars: BTreeMap<String, String> = known
            .iter()
            .map(|k| ((*k).to_owned(), "v".to_owned()))
            .collect();
        for t in [HUB_ACCOUNTS, HUB, HUB_CLUSTER, LEAF_JP, LEAF_KR] {
            let text = render(t, &vars).unwrap();
            assert!(!text.contains("{{"), "{text}");
        }
    }

    /// `(account, max_file, max_streams, max_consumers)` of every account's `jetstream: { … }`
    /// limits line in a config template.
    fn account_limits(text: &str) -> Vec<(String, u64, u64, u64)> {
        let mut out = Vec::new();
        let mut account = String::new();
        for line in text.lines() {
            let t = line.trim();
            if let Some(name) = t.strip_suffix(": {")
                && !name.is_empty()
                && name.bytes().all(|b| b.is_ascii_uppercase())
            {
                account = name.to_owned();
            }
            if let Some(body) = t.strip_prefix("jetstream: {") {
                let num = |key: &str| -> u64 {
                    let at = body.find(&format!("{key}: ")).unwrap() + key.len() + 2;
                    body[at..]
                        .split(|c: char| !c.is_ascii_digit())
                        .next()
                        .unwrap()
                        .parse()
                        .unwrap()
                };
                out.push((
                    account.clone(),
                    num("max_file"),
                    num("max_streams"),
                    num("max_consumers"),
                ));
            }
        }
        out
    }

    /// The per-account JetStream limits in the templates follow `streams.toml`: each account
    /// may hold exactly its planned streams (no more), with room for each stream's `max_bytes`
    /// (times 3 replicas at the hub) and for its planned consumers plus sourcing consumers; and
    /// all accounts of a server together fit its `max_file_store` (64GB = 64 x 2^30 bytes), so
    /// no nation can exhaust another's storage.
    #[test]
    fn account_jetstream_limits_follow_the_stream_plan() {
        use crate::Site;
        use crate::streams::StreamPlan;
        use trilink_schema::Nation;
        let plan = StreamPlan::builtin().unwrap();
        let store: u64 = 64 << 30;
        for (site, text, replicas) in [
            (Site::Hub, HUB_ACCOUNTS, 3),
            (Site::Jp, LEAF_JP, 1),
            (Site::Kr, LEAF_KR, 1),
        ] {
            let limits = account_limits(text);
            let accounts: Vec<Nation> = if site == Site::Hub {
                Nation::ALL.to_vec()
            } else {
                vec![site.nation()]
            };
            assert_eq!(limits.len(), accounts.len(), "{site}: {limits:?}");
            let mut total = 0;
            for n in accounts {
                let (_, max_file, max_streams, max_consumers) = limits
                    .iter()
                    .find(|l| l.0 == n.as_str().to_ascii_uppercase())
                    .unwrap_or_else(|| panic!("{site}: no limits for account {n}"))
                    .clone();
                let streams: Vec<_> = plan.for_site(site, n).collect();
                assert_eq!(max_streams, streams.len() as u64, "{site}/{n} max_streams");
                let bytes: u64 = streams
                    .iter()
                    .map(|s| s.max_bytes.unwrap_or(plan.defaults.max_bytes) as u64)
                    .sum();
                assert!(
                    max_file >= bytes * replicas,
                    "{site}/{n} max_file {max_file} < {bytes} x {replicas}"
                );
                let sources: usize = plan
                    .streams
                    .iter()
                    .flat_map(|s| s.sources.iter().map(move |src| (s, src)))
                    .filter(|(s, _)| s.account == n)
                    .count();
                let consumers = plan.consumers_for(site, n).count() + sources;
                assert!(
                    max_consumers as usize >= consumers + 4,
                    "{site}/{n} max_consumers {max_consumers} < {consumers} + 4"
                );
                assert!(
                    max_consumers <= 32,
                    "{site}/{n} max_consumers {max_consumers}: keep it tight"
                );
                total += max_file;
            }
            assert!(
                total <= store,
                "{site}: accounts {total} > max_file_store {store}"
            );
        }
        for t in [HUB, HUB_CLUSTER, LEAF_JP, LEAF_KR] {
            assert!(
                t.contains("max_file_store: 64GB"),
                "max_file_store changed: update this test"
            );
        }
    }
}

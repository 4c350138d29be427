//! `trilink broker watch-leaves` against a real hub: quiet (`--once` exits 0, the duplicate
//! gauge is 0) while JP and KR have one leaf each; with a second leaf holding JP's certificate,
//! `--once` names the duplicate and exits 1, `/metrics` counts two JP leaves and raises
//! `trilink_hub_leaf_identity_duplicated{account="JP"}`, and with `promtool` on PATH the
//! alert `TrilinkLeafIdentityDuplicated` from `deploy/prometheus/alerts.yaml` fires on the
//! scraped values (and not on the quiet ones).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::float_cmp
)] // test code; the metrics compared are counts

mod common;
use common::{repo, succeeds};

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use trilink_brokers::testing::{free_port, metric_sum, spawn_second_leaf, try_http_get};
use trilink_brokers::{Link, LinkOptions, ServerId};
use trilink_schema::Nation;

fn once(monitor: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trilink"))
        .args(["broker", "watch-leaves", "--once", "--monitor", monitor])
        .output()
        .unwrap()
}

struct Watcher(Child);

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const DUP: &str = "trilink_hub_leaf_identity_duplicated";
const LEAVES: &str = "trilink_hub_leaf_connections";

/// Scrape until JP's duplicate gauge is `want` (panic after 20 s); the page.
async fn scrape_until(addr: std::net::SocketAddr, want: f64, w: &mut Watcher) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some((200, page)) = try_http_get(addr, "/metrics").await
            && page.contains(DUP)
            && metric_sum(&page, DUP, "account=\"JP\"") == want
        {
            return page;
        }
        if let Some(status) = w.0.try_wait().unwrap() {
            let mut err = String::new();
            if let Some(mut e) = w.0.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut err);
            }
            panic!("watch-leaves exited ({status}): {err}");
        }
        assert!(
            Instant::now() < deadline,
            "{DUP}{{account=\"JP\"}} never became {want}: {:?}",
            try_http_get(addr, "/metrics").await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_leaves_raises_the_duplicate_signal_for_a_second_jp_leaf() {
    let link = Link::start(LinkOptions::default()).await.unwrap();
    let monitor = link.server(ServerId::hub(0)).unwrap().monitor_url();

    // Control: the genuine link is within allowance.
    let out = succeeds(&once(&monitor));
    assert!(
        out.contains("JP 127.0.0.1:") && out.contains(" 1\n"),
        "{out}"
    );

    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut w = Watcher(
        Command::new(env!("CARGO_BIN_EXE_trilink"))
            .args([
                "broker",
                "watch-leaves",
                "--interval-ms",
                "200",
                "--monitor",
            ])
            .arg(format!("hub-0={monitor}"))
            .args(["--metrics-listen", &addr.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let quiet = scrape_until(addr, 0.0, &mut w).await;
    assert_eq!(metric_sum(&quiet, LEAVES, "account=\"JP\""), 1.0, "{quiet}");
    assert_eq!(
        metric_sum(&quiet, "trilink_hub_monitor_up", "server=\"hub-0\""),
        1.0
    );
    assert_eq!(
        metric_sum(
            &quiet,
            "trilink_hub_leaf_duplicates_total",
            "account=\"JP\""
        ),
        0.0
    );

    let _rogue =
        spawn_second_leaf(&link, Nation::Jp, "rogue-jp", None, link.hub_leaf_ports()).await;
    let loud = scrape_until(addr, 1.0, &mut w).await;
    assert_eq!(metric_sum(&loud, LEAVES, "account=\"JP\""), 2.0, "{loud}");
    assert_eq!(metric_sum(&loud, LEAVES, "account=\"KR\""), 1.0, "{loud}");
    assert_eq!(metric_sum(&loud, DUP, "account=\"KR\""), 0.0, "{loud}");
    assert_eq!(
        metric_sum(&loud, "trilink_hub_leaf_duplicates_total", "account=\"JP\""),
        1.0
    );

    let o = once(&monitor);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("DUPLICATE JP: 2 leaf connections"), "{out}");

    drop(w);
    alert_fires_on(&quiet, &loud);
    link.shutdown().unwrap();
}

/// `TrilinkLeafIdentityDuplicated`'s own expression in promtool over the quiet scrape followed
/// by the loud one (the connection counts): it fires for JP after its `for:` and never for KR.
fn alert_fires_on(quiet: &str, loud: &str) {
    if !common::promtool_present("the alert expression") {
        return;
    }
    let alerts = std::fs::read_to_string(repo().join("deploy/prometheus/alerts.yaml")).unwrap();
    let rule: Vec<&str> = alerts
        .lines()
        .skip_while(|l| !l.contains("alert: TrilinkLeafIdentityDuplicated"))
        .take_while(|l| !l.trim().starts_with("labels:"))
        .collect();
    let field = |name: &str| {
        rule.iter()
            .find_map(|l| l.trim().strip_prefix(name))
            .unwrap()
            .trim()
            .to_owned()
    };
    let (expr, for_) = (field("expr:"), field("for:"));
    let minutes: u32 = for_.strip_suffix('m').unwrap().parse().unwrap();
    // The scraped series of every hub node and account, as Prometheus stores them.
    let series = |account: &str| {
        let q = metric_sum(quiet, LEAVES, &format!("account=\"{account}\""));
        let l = metric_sum(loud, LEAVES, &format!("account=\"{account}\""));
        format!(
            "      - series: '{LEAVES}{{account=\"{account}\",server=\"hub-0\",instance=\"watch\"}}'\n        values: '{q} {q} {l}x{}'\n",
            minutes + 2
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yaml");
    std::fs::write(
        &rules,
        format!(
            "groups:\n  - name: t\n    rules:\n      - alert: Dup\n        expr: {expr}\n        for: {for_}\n"
        ),
    )
    .unwrap();
    let test = dir.path().join("test.yaml");
    // One watcher per hub node, each seeing one JP leaf on its own node: still two.
    let per_node_watchers = format!(
        "  - interval: 1m\n    input_series:\n      - series: '{LEAVES}{{account=\"JP\",server=\"127.0.0.1:8222\",instance=\"hub-1:9471\"}}'\n        values: '1x{m}'\n      - series: '{LEAVES}{{account=\"JP\",server=\"127.0.0.1:8222\",instance=\"hub-2:9471\"}}'\n        values: '0 1x{m}'\n    alert_rule_test:\n      - eval_time: {m}m\n        alertname: Dup\n        exp_alerts:\n          - exp_labels: {{account: JP}}\n",
        m = minutes + 2
    );
    std::fs::write(
        &test,
        format!(
            "rule_files: [{}]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n{}{}    alert_rule_test:\n      - eval_time: 1m\n        alertname: Dup\n        exp_alerts: []\n      - eval_time: {}m\n        alertname: Dup\n        exp_alerts:\n          - exp_labels: {{account: JP}}\n{}",
            rules.display(),
            series("JP"),
            series("KR"),
            minutes + 2,
            per_node_watchers,
        ),
    )
    .unwrap();
    common::promtool_test_rules(&test);
}

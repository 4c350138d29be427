//! The relay's `/metrics` as Prometheus scrapes it: the policy-reload-failure counter is
//! exported at 0 from start, so `TrilinkRelayPolicyReloadFailed` (an `increase()` over it)
//! fires on the very first refused reload. With `promtool` on PATH, the alert's expression
//! from `deploy/prometheus/alerts.yaml` is also run by promtool over the scraped values.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code

mod common;
use common::repo;

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use trilink_brokers::testing::{free_port, start_nats};

fn get(addr: &str, path: &str) -> Option<String> {
    trilink_brokers::testing::request(addr.parse().ok()?, path)
        .ok()
        .map(|(_, body)| body)
}

/// The value of an unlabelled sample in a Prometheus text page.
fn sample(page: &str, name: &str) -> Option<f64> {
    page.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
}

struct Relay(Child);

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Scrape until `name` has `value` (or panic after 30 s).
fn scrape_until(addr: &str, name: &str, value: f64, relay: &mut Relay) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(page) = get(addr, "/metrics")
            && sample(&page, name) == Some(value)
        {
            return page;
        }
        if let Some(status) = relay.0.try_wait().unwrap() {
            let mut err = String::new();
            relay
                .0
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            panic!("relay exited ({status}): {err}");
        }
        assert!(
            Instant::now() < deadline,
            "{name} never became {value}: {:?}",
            get(addr, "/metrics")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn reload_failure_counter_exists_from_start_and_the_alert_fires_on_the_first_failure() {
    let nats = start_nats();
    common::relay_streams(&nats.url());
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("relay.toml");
    std::fs::write(
        &config,
        format!("nats_url = \"{}\"\nstatus_interval_s = 0\n", nats.url()),
    )
    .unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::copy(
        repo().join("broker-config/policies/default-trilateral.toml"),
        &policy,
    )
    .unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let mut relay = Relay(
        Command::new(env!("CARGO_BIN_EXE_trilink"))
            .args(["relay", "--config"])
            .arg(&config)
            .arg("--policy")
            .arg(&policy)
            .args(["--metrics-listen", &addr])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let name = "trilink_relay_policy_reload_failures_total";
    let before = scrape_until(&addr, name, 0.0, &mut relay);
    // Every relay counter an alert or panel uses with increase()/rate() exists from start.
    for counter in [
        "trilink_relay_received_total",
        "trilink_relay_publish_errors_total",
        "trilink_relay_policy_reloads_total",
    ] {
        assert_eq!(sample(&before, counter), Some(0.0), "{counter}:\n{before}");
    }

    std::fs::write(&policy, "this is = not a policy\n").unwrap();
    let pid = relay.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success()
    );
    let after = scrape_until(&addr, name, 1.0, &mut relay);
    assert_eq!(
        sample(&after, "trilink_relay_policy_reloads_total"),
        Some(0.0)
    );

    // The alert's own expression over the two scrapes, one minute apart, in promtool.
    if !common::promtool_present("the alert expression") {
        return;
    }
    let alerts = std::fs::read_to_string(repo().join("deploy/prometheus/alerts.yaml")).unwrap();
    let expr = alerts
        .lines()
        .skip_while(|l| !l.contains("alert: TrilinkRelayPolicyReloadFailed"))
        .find_map(|l| l.trim().strip_prefix("expr: "))
        .unwrap()
        .to_owned();
    let v0 = sample(&before, name).unwrap();
    let v1 = sample(&after, name).unwrap();
    let rules = dir.path().join("rules.yaml");
    std::fs::write(
        &rules,
        format!(
            "groups:\n  - name: t\n    rules:\n      - alert: ReloadFailed\n        expr: {expr}\n"
        ),
    )
    .unwrap();
    // As scraped (the counter at 0 from start): fires. As it would be without the 0 (the
    // series first appears at 1): increase() sees one sample and nothing fires.
    let test = dir.path().join("test.yaml");
    std::fs::write(
        &test,
        format!(
            "rule_files: [{}]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n      - series: '{name}{{instance=\"relay\"}}'\n        values: '{v0} {v0} {v1} {v1}'\n      - series: '{name}{{instance=\"late\"}}'\n        values: '_ _ {v1} {v1}'\n    alert_rule_test:\n      - eval_time: 3m\n        alertname: ReloadFailed\n        exp_alerts:\n          - exp_labels: {{instance: relay}}\n",
            rules.display()
        ),
    )
    .unwrap();
    common::promtool_test_rules(&test);
}

//! The JetStream publisher keeps at most `max_in_flight` publishes awaiting their ack: with
//! the server frozen (SIGSTOP) the next publish waits instead of buffering without bound,
//! and everything is stored once the server resumes.

// Test helpers may unwrap and index like #[test] functions (see clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;
use trilink_runtime::nats::Publisher;
use trilink_schema::Nation;

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig} {pid}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_is_bounded_and_drains() {
    let hub = Hub::start(&[TL_IN]).await;
    let (nats, js) = (&hub.nats, &hub.js);
    let pjs = trilink_runtime::nats::jetstream(&hub.client, None, Duration::from_secs(20));
    let publisher = Publisher::new(pjs, Nation::Jp, 4, 0);

    signal(nats.pid().unwrap(), "-STOP");
    for i in 0..4 {
        let env = launch(Nation::Jp, &format!("bp-{i}"), &[Nation::Jp]);
        tokio::time::timeout(Duration::from_secs(2), publisher.publish(&env))
            .await
            .expect("a publish within the in-flight limit must not wait")
            .unwrap();
    }
    assert_eq!(publisher.in_flight(), 4);
    let fifth = launch(Nation::Jp, "bp-4", &[Nation::Jp]);
    let p2 = publisher.clone();
    let mut blocked = tokio::spawn(async move { p2.publish(&fifth).await });
    assert!(
        tokio::time::timeout(Duration::from_millis(700), &mut blocked)
            .await
            .is_err(),
        "the fifth publish must wait for a free slot"
    );
    assert!(!publisher.drain(Duration::from_millis(200)).await);

    signal(nats.pid().unwrap(), "-CONT");
    tokio::time::timeout(Duration::from_secs(10), blocked)
        .await
        .expect("the waiting publish proceeds once acks arrive")
        .unwrap()
        .unwrap();
    assert!(publisher.drain(Duration::from_secs(10)).await);
    assert_eq!(publisher.in_flight(), 0);
    assert_eq!(publisher.failed(), 0);
    let n = stream_count(js, "TL_IN").await;
    assert_eq!(n, 5);
}

//! MQTT over TLS (the KR adapter's national link) against a real mosquitto TLS listener that
//! requires client certificates (`require_certificate true`, `use_identity_as_username true`),
//! with throwaway certificates from `trilink_brokers::make_dev_certs` (dev CA; server
//! certificate `hub.pem` for localhost/127.0.0.1; client certificates `leaf-kr`, `leaf-jp`; a
//! rogue CA and a client certificate signed by it).
//!
//! - round trip: a KR national client publishes over TLS → adapter TLS ingress → JetStream;
//!   JetStream → adapter TLS egress → the national TLS subscriber (mutual TLS both ways, the
//!   broker sees the adapter as `leaf-kr`);
//! - refusals: untrusted broker, TLS configured but the port is plaintext (no fallback), no
//!   client certificate, client certificate from another CA, server name mismatch — none of
//!   them connects, each is counted and logged, while a correct endpoint of the same adapter
//!   works;
//! - configuration errors name the key (`ingress[0].tls.ca_file`, …), environment overrides
//!   reach the `tls` table, and TLS files that vanish after validation stop the adapter.

// Test helpers may unwrap and index like #[test] functions (see clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use common::*;
use rumqttc::{MqttOptions, TlsConfiguration, Transport};
use trilink_runtime::adapter::{AdapterConfig, AdapterError};
use trilink_runtime::config::ConfigError;
use trilink_runtime::transport::{IngressConfig, OutputConfig, TransportError};
use trilink_schema::{Decoded, Envelope, Nation, NationalCodec, headers};

const WAIT: Duration = Duration::from_secs(15);

// ----------------------------------------------------------------------------------------
// Helpers
// ----------------------------------------------------------------------------------------

/// mosquitto with a mutual-TLS listener (returned port) and, if `plain`, a plaintext listener
/// (second port).
fn start_tls_mosquitto(certs: &Path, plain: Option<u16>) -> Mosquitto {
    let tls_port = free_port();
    let c = certs.display();
    // `user root`: when the tests run as root, mosquitto would otherwise switch to the
    // `mosquitto` user, which cannot read the 0600 key in the test's 0700 scratch directory
    // (no effect when not run as root).
    let mut body = format!(
        "user root\nallow_anonymous true\n\
         listener {tls_port} 127.0.0.1\n\
         cafile {c}/ca.pem\ncertfile {c}/hub.pem\nkeyfile {c}/hub-key.pem\n\
         require_certificate true\nuse_identity_as_username true\n"
    );
    let mut ports = vec![tls_port];
    if let Some(p) = plain {
        writeln!(body, "listener {p} 127.0.0.1").unwrap();
        ports.push(p);
    }
    start_mosquitto_conf(&ports, &body)
}

/// A national MQTT client over TLS (rumqttc's own PEM loading, not the adapter's code),
/// subscribed to `kr/sys/in`: every publish it receives arrives on the channel.
async fn national_tls(
    id: &str,
    port: u16,
    certs: &Path,
    client: &str,
) -> (
    rumqttc::AsyncClient,
    tokio::sync::mpsc::Receiver<bytes::Bytes>,
    tokio::task::JoinHandle<()>,
) {
    let read = |f: &str| std::fs::read(certs.join(f)).unwrap();
    let mut opts = MqttOptions::new(id, "127.0.0.1", port);
    opts.set_keep_alive(Duration::from_secs(10));
    opts.set_max_packet_size(1 << 20, 1 << 20);
    opts.set_transport(Transport::tls_with_config(TlsConfiguration::Simple {
        ca: read("ca.pem"),
        alpn: None,
        client_auth: Some((
            read(&format!("{client}.pem")),
            read(&format!("{client}-key.pem")),
        )),
    }));
    national_mqtt_with(opts, 64, Some("kr/sys/in")).await
}

/// Every log line of this test process. Every test here that runs an adapter calls it first,
/// so that this subscriber is the global one even when the tests share a process (`cargo
/// test`); the adapter's own `init_logging` then keeps it.
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let b = buf.clone();
        let _ = tracing_subscriber::fmt()
            .with_env_filter("info")
            .with_ansi(false)
            .with_writer(move || LogWriter(b.clone()))
            .try_init();
        buf
    })
    .clone()
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        std::io::stderr().write_all(b)?;
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Value of `trilink_reconnects_total` for `transport` (0 when absent).
fn reconnects(metrics: &str, transport: &str) -> u64 {
    let label = format!("transport=\"{transport}\"");
    metric_sum(metrics, "trilink_reconnects_total", &label) as u64
}

fn load(text: &str, env: &[(&str, &str)]) -> Result<AdapterConfig, ConfigError> {
    load_config(text, "kr.toml", env)
}

// ----------------------------------------------------------------------------------------
// Round trip
// ----------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kr_mqtt_tls_round_trip_with_mutual_tls() {
    captured_logs();
    let (_keep, certs) = dev_certs();
    let hub = Hub::start(&[TL_IN, TL_DLQ, TL_OUT_KR]).await;
    let (url, js) = (&hub.url, &hub.js);
    let mosq = start_tls_mosquitto(&certs, None);

    let c = certs.display();
    // Ingress verifies the broker against the host (127.0.0.1, an IP SAN); egress against
    // `server_name = "localhost"` (a DNS SAN of the same certificate).
    let port = mosq.port();
    let ingress_tls = format!(
        r#"tls = {{ ca_file = "{c}/ca.pem", cert_file = "{c}/leaf-kr.pem", key_file = "{c}/leaf-kr-key.pem" }}"#
    );
    let egress_tls = format!(
        r#"
[egress.outputs.tls]
ca_file = "{c}/ca.pem"
cert_file = "{c}/leaf-kr.pem"
key_file = "{c}/leaf-kr-key.pem"
server_name = "localhost"
"#
    );
    let toml = adapter_toml("kr", url, "")
        + &mqtt_toml("ingress", port, "trilink-kr-in", "kr/sys/out", &ingress_tls)
        + &egress_toml("kr", "")
        + &mqtt_toml("egress.outputs", port, "trilink-kr-out", "kr/sys/in", "")
        + &egress_tls;
    let adapter = spawn_adapter(load(&toml, &[]).unwrap(), TestCodec::<Kr>::default());

    // The KR national system: a TLS client of the same broker with its own certificate.
    let (national, mut rx, driver) =
        national_tls("kr-national", mosq.port(), &certs, "leaf-jp").await;

    // Ingress over TLS: publish until the adapter's subscription is in place.
    let env = launch(Nation::Kr, "kr-tls-1", &[Nation::Kr, Nation::Jp]);
    kr_publish_until_stored(js, &national, &env, WAIT, "MQTT/TLS input").await;

    // Egress over TLS: a JP message released to KR reaches the national TLS subscriber.
    let from_jp = launch(Nation::Jp, "jp-tls-1", &[Nation::Jp, Nation::Kr]);
    publish_envelope(js, "tl.out.kr.launch_detection", &from_jp).await;
    let payload = tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("nothing delivered over MQTT/TLS")
        .unwrap();
    let Decoded::Frame { frame, .. } = TestCodec::<Kr>::default().decode(&payload).unwrap() else {
        panic!("incomplete frame over MQTT/TLS");
    };
    let frame: Envelope = frame;
    assert_eq!(frame.message_id, from_jp.message_id);

    let summary = adapter.stop(WAIT).await;
    assert!(summary.published >= 1, "{summary:?}");
    assert_eq!(summary.delivered, 1, "{summary:?}");
    driver.abort();

    // The broker authenticated both adapter sessions by their client certificate.
    let log = mosq.log_text();
    for id in ["trilink-kr-in", "trilink-kr-out"] {
        assert!(
            log.lines()
                .any(|l| l.contains(&format!("as {id} ")) && l.contains("u'leaf-kr'")),
            "{id} not connected with identity leaf-kr:\n{log}"
        );
    }
}

// ----------------------------------------------------------------------------------------
// Refusals
// ----------------------------------------------------------------------------------------

/// One adapter, five broken TLS ingress endpoints, one broken TLS egress output and one good
/// ingress as control. Nothing broken connects (the broker logs no session for its client id),
/// every broken endpoint is counted in `trilink_reconnects_total` and logged, the national
/// messages on the broken endpoints' topics never reach JetStream, and the control works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kr_mqtt_tls_refusals_never_connect_and_never_fall_back() {
    let logs = captured_logs();
    let prom = trilink_runtime::telemetry::install_metrics().unwrap();
    let (_keep, certs) = dev_certs();
    let hub = Hub::start(&[TL_IN, TL_DLQ, TL_OUT_KR]).await;
    let (url, js) = (&hub.url, &hub.js);
    let plain_port = free_port();
    let mosq = start_tls_mosquitto(&certs, Some(plain_port));
    let tls_port = mosq.port();

    let c = certs.display();
    let good = format!(
        r#"ca_file = "{c}/ca.pem", cert_file = "{c}/leaf-kr.pem", key_file = "{c}/leaf-kr-key.pem""#
    );
    // (client id, topic, port, tls table, what is wrong)
    let broken = [
        (
            "kr-rogue-ca",
            "kr/r0",
            tls_port,
            format!(
                r#"ca_file = "{c}/rogue-ca.pem", cert_file = "{c}/leaf-kr.pem", key_file = "{c}/leaf-kr-key.pem""#
            ),
            "the adapter does not trust the broker",
        ),
        (
            "kr-plain-port",
            "kr/r1",
            plain_port,
            good.clone(),
            "TLS configured, plaintext listener",
        ),
        (
            "kr-no-cert",
            "kr/r2",
            tls_port,
            format!(r#"ca_file = "{c}/ca.pem""#),
            "no client certificate",
        ),
        (
            "kr-rogue-cert",
            "kr/r3",
            tls_port,
            format!(
                r#"ca_file = "{c}/ca.pem", cert_file = "{c}/rogue-leaf-jp.pem", key_file = "{c}/rogue-leaf-jp-key.pem""#
            ),
            "client certificate from another CA",
        ),
        (
            "kr-wrong-name",
            "kr/r4",
            tls_port,
            format!(r#"{good}, server_name = "kr-broker.example""#),
            "server certificate not valid for server_name",
        ),
    ];
    let rogue_output_tls = format!(
        r#"tls = {{ ca_file = "{c}/rogue-ca.pem", cert_file = "{c}/leaf-kr.pem", key_file = "{c}/leaf-kr-key.pem" }}"#
    );
    let mut toml = adapter_toml("kr", url, "drain_timeout_ms = 1000")
        + &egress_toml("kr", "nak_delay_ms = 200")
        + &mqtt_toml(
            "egress.outputs",
            tls_port,
            "kr-out-rogue-ca",
            "kr/sys/in",
            &rogue_output_tls,
        );
    for (id, topic, port, tls, _) in broken
        .iter()
        .map(|(i, t, p, s, w)| (*i, *t, *p, s.as_str(), *w))
        .chain([("kr-control", "kr/ok", tls_port, good.as_str(), "")])
    {
        toml += &mqtt_toml("ingress", port, id, topic, &format!("tls = {{ {tls} }}"));
    }
    let adapter = spawn_adapter(load(&toml, &[]).unwrap(), TestCodec::<Kr>::default());

    let (national, mut rx, driver) = national_tls("kr-national", tls_port, &certs, "leaf-jp").await;
    let from_jp = launch(Nation::Jp, "jp-tls-2", &[Nation::Jp, Nation::Kr]);
    publish_envelope(js, "tl.out.kr.launch_detection", &from_jp).await;

    // Publish a distinct message on every topic until the control arrived and every broken
    // endpoint (and the broken output) has failed at least twice.
    let control = launch(Nation::Kr, "kr-control", &[Nation::Kr]);
    let per_topic: Vec<(&str, Envelope)> = broken
        .iter()
        .map(|b| (b.1, launch(Nation::Kr, b.0, &[Nation::Kr])))
        .collect();
    let mut labels: Vec<String> = broken.iter().map(|b| format!("mqtt:{}", b.1)).collect();
    labels.push("mqtt:kr/sys/in".into());
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        mqtt_publish(&national, "kr/ok", frame_for(&control)).await;
        for (topic, env) in &per_topic {
            mqtt_publish(&national, topic, frame_for(env)).await;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        let metrics = prom.render();
        let failing = labels.iter().all(|l| reconnects(&metrics, l) >= 2);
        if failing && stream_count(js, "TL_IN").await >= 1 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not every broken endpoint failed twice / control never arrived:\n{}",
            labels
                .iter()
                .map(|l| format!("{l}: {}", reconnects(&metrics, l)))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    // Once more on every topic, then only the control's message is stored.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(stream_count(js, "TL_IN").await, 1);
    let m = raw_message(js, "TL_IN", 1).await;
    assert_eq!(
        m.headers.get(headers::MSG_ID).unwrap().as_str(),
        control.message_id.to_string()
    );
    // The untrusted broker got nothing from the egress.
    assert!(
        rx.try_recv().is_err(),
        "an output that does not trust the broker delivered"
    );

    let summary = adapter.stop(WAIT).await;
    assert_eq!(summary.delivered, 0, "{summary:?}");
    assert!(summary.published >= 1, "{summary:?}");
    driver.abort();

    // The broker never had a session for a broken client id (no plaintext connection on the
    // plaintext port either); the control connected as leaf-kr.
    let log = mosq.log_text();
    for id in broken.iter().map(|b| b.0).chain(["kr-out-rogue-ca"]) {
        assert!(
            !log.contains(&format!("as {id} ")),
            "{id} connected:\n{log}"
        );
    }
    assert!(
        log.lines()
            .any(|l| l.contains("as kr-control ") && l.contains("u'leaf-kr'")),
        "{log}"
    );

    // Logged with the reason (the adapter side sees these two itself).
    let logs = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    let line = |label: &str| {
        logs.lines()
            .filter(|l| l.contains("transport reconnecting") && l.contains(label))
            .map(str::to_owned)
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(line("mqtt:kr/r0").contains("UnknownIssuer"), "{logs}");
    assert!(line("mqtt:kr/sys/in").contains("UnknownIssuer"), "{logs}");
    assert!(line("mqtt:kr/r4").contains("not valid for name"), "{logs}");
    for (_, topic, _, _, what) in &broken {
        assert!(
            !line(&format!("mqtt:{topic}")).is_empty(),
            "{what}: no reconnect logged"
        );
    }
}

// ----------------------------------------------------------------------------------------
// Configuration
// ----------------------------------------------------------------------------------------

/// A KR adapter with an MQTT ingress on 127.0.0.1:8883 followed by `tls_lines` and an MQTT
/// output to `kr-broker:8883` followed by `out_tls_lines`.
fn tls_config(tls_lines: &str, out_tls_lines: &str) -> String {
    let output = format!(
        "host = \"kr-broker\"\nport = 8883\nclient_id = \"trilink-kr-out\"\ntopic = \"kr/sys/in\"\n{out_tls_lines}"
    );
    "[adapter]\nnation = \"kr\"\n[nats]\nurl = \"nats://127.0.0.1:4222\"\n".to_owned()
        + &mqtt_toml("ingress", 8883, "trilink-kr-in", "kr/sys/out", tls_lines)
        + &egress_toml("kr", "")
        + &endpoint_toml("egress.outputs", "mqtt", &output)
}

#[test]
fn tls_table_loads_and_environment_overrides_reach_it() {
    let (_keep, certs) = dev_certs();
    let c = certs.display();
    let text = tls_config(
        &format!(
            "[ingress.tls]\nca_file = \"{c}/ca.pem\"\ncert_file = \"{c}/leaf-kr.pem\"\nkey_file = \"{c}/leaf-kr-key.pem\"\nserver_name = \"localhost\""
        ),
        "",
    );
    let cfg = load(&text, &[]).unwrap();
    let IngressConfig::Mqtt(m) = &cfg.ingress[0] else {
        panic!()
    };
    let tls = m.tls.as_ref().unwrap();
    assert_eq!(tls.ca_file, certs.join("ca.pem"));
    assert_eq!(
        tls.cert_file.as_deref(),
        Some(certs.join("leaf-kr.pem").as_path())
    );
    assert_eq!(tls.server_name.as_deref(), Some("localhost"));
    let OutputConfig::Mqtt(o) = &cfg.egress.as_ref().unwrap().outputs[0] else {
        panic!()
    };
    assert!(o.tls.is_none(), "no tls table: plain MQTT");

    // TRILINK__INGRESS__0__TLS__CA_FILE replaces the file (and is checked like it) …
    let rogue = format!("{c}/rogue-ca.pem");
    let cfg = load(&text, &[("TRILINK__INGRESS__0__TLS__CA_FILE", &rogue)]).unwrap();
    let IngressConfig::Mqtt(m) = &cfg.ingress[0] else {
        panic!()
    };
    assert_eq!(m.tls.as_ref().unwrap().ca_file, PathBuf::from(&rogue));
    let err = load(
        &text,
        &[("TRILINK__INGRESS__0__TLS__CA_FILE", "/nonexistent/ca.pem")],
    )
    .unwrap_err();
    assert_eq!(err.key(), Some("ingress[0].tls.ca_file"), "{err}");
    assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");

    // … and creates the table where the file has none.
    let ca = format!("{c}/ca.pem");
    let cfg = load(&text, &[("TRILINK__EGRESS__OUTPUTS__0__TLS__CA_FILE", &ca)]).unwrap();
    let OutputConfig::Mqtt(o) = &cfg.egress.as_ref().unwrap().outputs[0] else {
        panic!()
    };
    assert_eq!(o.tls.as_ref().unwrap().ca_file, PathBuf::from(&ca));
    assert!(o.tls.as_ref().unwrap().cert_file.is_none());
}

#[test]
fn tls_config_errors_name_the_key() {
    let (_keep, certs) = dev_certs();
    let c = certs.display();
    let not_pem = certs.join("not-pem.txt");
    std::fs::write(&not_pem, "this is not PEM\n").unwrap();
    let garbage_pem = certs.join("garbage.pem");
    std::fs::write(
        &garbage_pem,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let ing = |body: &str| tls_config(&format!("[ingress.tls]\n{body}"), "");
    let out = |body: &str| tls_config("", &format!("[egress.outputs.tls]\n{body}"));
    let cases: Vec<(String, &str, &str)> = vec![
        // (config, key, a word the message must contain)
        (
            ing(r#"ca_file = "/nonexistent/kr-ca.pem""#),
            "ingress[0].tls.ca_file",
            "/nonexistent/kr-ca.pem",
        ),
        (
            ing(&format!(r#"ca_file = "{}""#, not_pem.display())),
            "ingress[0].tls.ca_file",
            "not-pem.txt",
        ),
        (
            ing(&format!(r#"ca_file = "{c}/ca-key.pem""#)),
            "ingress[0].tls.ca_file",
            "no PEM certificate",
        ),
        (
            ing(&format!(r#"ca_file = "{}""#, garbage_pem.display())),
            "ingress[0].tls.ca_file",
            "trust anchor",
        ),
        (
            ing(&format!(
                "ca_file = \"{c}/ca.pem\"\ncert_file = \"{c}/leaf-kr.pem\""
            )),
            "ingress[0].tls.key_file",
            "go together",
        ),
        (
            ing(&format!(
                "ca_file = \"{c}/ca.pem\"\nkey_file = \"{c}/leaf-kr-key.pem\""
            )),
            "ingress[0].tls.cert_file",
            "go together",
        ),
        (
            ing(&format!(
                "ca_file = \"{c}/ca.pem\"\ncert_file = \"{c}/leaf-kr.pem\"\nkey_file = \"{c}/leaf-jp-key.pem\""
            )),
            "ingress[0].tls.key_file",
            "leaf-jp-key.pem",
        ),
        (
            ing(&format!(
                "ca_file = \"{c}/ca.pem\"\ncert_file = \"{c}/leaf-kr.pem\"\nkey_file = \"{c}/leaf-kr.pem\""
            )),
            "ingress[0].tls.key_file",
            "private key",
        ),
        (
            ing(&format!(
                "ca_file = \"{c}/ca.pem\"\nserver_name = \"not a name!\""
            )),
            "ingress[0].tls.server_name",
            "not a name!",
        ),
        (
            out(&format!(
                "ca_file = \"{c}/ca.pem\"\ncert_file = \"{c}/leaf-kr-key.pem\"\nkey_file = \"{c}/leaf-kr-key.pem\""
            )),
            "egress.outputs[0].tls.cert_file",
            "no PEM certificate",
        ),
    ];
    for (text, key, word) in &cases {
        let err = load(text, &[]).unwrap_err();
        assert_eq!(err.key(), Some(*key), "{err}");
        assert!(matches!(err, ConfigError::Invalid { .. }), "{err}");
        assert!(err.to_string().contains(word), "{key}: {err}");
    }

    // The host is the TLS name when no server_name is given: it must be one.
    let text = tls_config(&format!("[ingress.tls]\nca_file = \"{c}/ca.pem\""), "")
        .replace("host = \"127.0.0.1\"", "host = \"kr broker\"");
    let err = load(&text, &[]).unwrap_err();
    assert_eq!(err.key(), Some("ingress[0].host"), "{err}");

    // Unknown keys (there is no "skip verification" switch) and a missing ca_file.
    let err = load(
        &ing(&format!(
            "ca_file = \"{c}/ca.pem\"\ninsecure_skip_verify = true"
        )),
        &[],
    )
    .unwrap_err();
    assert!(err.key().unwrap().starts_with("ingress[0]"), "{err}");
    assert!(err.to_string().contains("insecure_skip_verify"), "{err}");
    let err = load(&ing(&format!("cert_file = \"{c}/leaf-kr.pem\"")), &[]).unwrap_err();
    assert!(err.key().unwrap().starts_with("ingress[0]"), "{err}");
    assert!(err.to_string().contains("ca_file"), "{err}");
}

/// TLS files that disappear between validation and start stop the adapter with an error
/// naming the key: the endpoint is never started without its TLS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_files_gone_at_start_stop_the_adapter() {
    captured_logs();
    let (_keep, certs) = dev_certs();
    let nats = start_nats();
    let scratch = tempfile::tempdir().unwrap();
    let ca = scratch.path().join("ca.pem");
    std::fs::copy(certs.join("ca.pem"), &ca).unwrap();
    let text = adapter_toml("kr", &format!("nats://127.0.0.1:{}", nats.port()), "")
        + &mqtt_toml(
            "ingress",
            8883,
            "trilink-kr-in",
            "kr/sys/out",
            &format!("tls = {{ ca_file = \"{}\" }}", ca.display()),
        );
    let cfg = load(&text, &[]).unwrap();
    std::fs::remove_file(&ca).unwrap();
    let r = run_to_end(cfg, TestCodec::<Kr>::default(), WAIT).await;
    let Err(AdapterError::Transport(TransportError::Tls { endpoint, source })) = r else {
        panic!("expected a TLS error, got {r:?}");
    };
    assert_eq!(endpoint, "mqtt://127.0.0.1:8883");
    assert_eq!(source.key.path(), "tls.ca_file");
    assert!(source.message.contains("ca.pem"), "{source}");
}

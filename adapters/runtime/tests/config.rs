//! Config loading: examples parse, env overrides apply, every error names file and key.

// Test helpers may unwrap and index like #[test] functions (see clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};

use trilink_runtime::adapter::{self, AdapterConfig};
use trilink_runtime::config::{self, ConfigError};
use trilink_runtime::transport::{IngressConfig, OutputConfig};
use trilink_schema::Nation;

fn no_env() -> Vec<(String, String)> {
    Vec::new()
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

const MIN: &str = r#"
[adapter]
nation = "jp"
[nats]
url = "nats://127.0.0.1:4222"
[[ingress]]
type = "udp"
bind = "127.0.0.1:7000"
"#;

fn load(text: &str, e: Vec<(String, String)>) -> Result<AdapterConfig, ConfigError> {
    config::load_str(text, Path::new("site.toml"), e)
}

#[test]
fn every_example_config_loads() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut seen = Vec::new();
    for (file, nation) in [
        ("adapter-jp.toml", Nation::Jp),
        ("adapter-kr.toml", Nation::Kr),
        ("adapter-us.toml", Nation::Us),
    ] {
        let cfg: AdapterConfig = config::load(&dir.join(file)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cfg.adapter.nation, nation);
        assert!(cfg.egress.is_some());
        seen.push(cfg);
    }
    assert!(matches!(seen[1].ingress[0], IngressConfig::Mqtt(_)));
    assert!(matches!(
        seen[2].ingress[0],
        IngressConfig::TcpServer { .. }
    ));
    assert!(matches!(
        seen[2].egress.as_ref().unwrap().outputs[0],
        OutputConfig::TcpClient { .. }
    ));
}

#[test]
fn env_overrides_scalars_tables_and_array_elements() {
    let cfg = load(
        MIN,
        env(&[
            ("TRILINK__NATS__URL", "nats://hub:4222"),
            ("TRILINK__NATS__MAX_IN_FLIGHT", "77"),
            ("TRILINK__TELEMETRY__LOG_FORMAT", "json"),
            ("TRILINK__TELEMETRY__LISTEN", "127.0.0.1:9999"),
            ("TRILINK__INGRESS__0__BIND", "0.0.0.0:7100"),
            ("UNRELATED", "x"),
        ]),
    )
    .unwrap();
    assert_eq!(cfg.nats.url, "nats://hub:4222");
    assert_eq!(cfg.nats.max_in_flight, 77);
    assert_eq!(
        cfg.telemetry.log_format,
        trilink_runtime::telemetry::LogFormat::Json
    );
    assert_eq!(cfg.telemetry.listen.unwrap().port(), 9999);
    let IngressConfig::Udp(u) = &cfg.ingress[0] else {
        panic!()
    };
    assert_eq!(u.bind.port(), 7100);
}

#[test]
fn unknown_key_is_named_with_its_path_and_the_file() {
    let text = MIN.replace("url = ", "urll = \"x\"\nurl = ");
    let err = load(&text, no_env()).unwrap_err();
    assert_eq!(err.key(), Some("nats.urll"), "{err}");
    assert!(!err.to_string().contains('\n'), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("site.toml"), "{msg}");
    assert!(msg.contains("urll"), "{msg}");

    let text = MIN.replace("bind = ", "bnd = \"1\"\nbind = ");
    let err = load(&text, no_env()).unwrap_err();
    assert!(err.to_string().contains("bnd"), "{err}");
    assert!(err.key().unwrap().starts_with("ingress[0]"), "{err}");
}

#[test]
fn wrong_type_names_the_key() {
    let text = format!("{MIN}\n[telemetry]\nlog_format = \"xml\"\n");
    let err = load(&text, no_env()).unwrap_err();
    assert_eq!(err.key(), Some("telemetry.log_format"), "{err}");

    let err = load(MIN, env(&[("TRILINK__NATS__MAX_IN_FLIGHT", "lots")])).unwrap_err();
    assert_eq!(err.key(), Some("nats.max_in_flight"), "{err}");

    let err = load(&MIN.replace("\"jp\"", "\"cn\""), no_env()).unwrap_err();
    assert_eq!(err.key(), Some("adapter.nation"), "{err}");
}

#[test]
fn validation_names_the_key() {
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case<'_>] = &[
        (
            MIN,
            &[("TRILINK__NATS__MAX_IN_FLIGHT", "0")],
            "nats.max_in_flight",
        ),
        (MIN, &[("TRILINK__NATS__URL", "http://x")], "nats.url"),
        (MIN, &[("TRILINK__NATS__USER", "u")], "nats.password"),
        (
            MIN,
            &[("TRILINK__ADAPTER__COMPONENT", "Adapter JP")],
            "adapter.component",
        ),
        (
            MIN,
            &[("TRILINK__INGRESS__0__MULTICAST_GROUP", "10.0.0.1")],
            "ingress[0].multicast_group",
        ),
        (
            MIN,
            &[("TRILINK__TELEMETRY__LOG_FILTER", "[[[")],
            "telemetry.log_filter",
        ),
    ];
    for (text, e, key) in cases {
        let err = load(text, env(e)).unwrap_err();
        assert!(matches!(err, ConfigError::Invalid { .. }), "{err}");
        assert_eq!(err.key(), Some(*key), "{err}");
        assert!(err.to_string().contains("site.toml"), "{err}");
    }
    let egress = format!(
        "{MIN}\n[egress]\nstream = \"S\"\ndurable = \"d\"\nfilter_subject = \"tl.out.kr.>\"\n[[egress.outputs]]\ntype = \"udp\"\ntarget = \"127.0.0.1:1\"\n"
    );
    let err = load(&egress, no_env()).unwrap_err();
    assert_eq!(err.key(), Some("egress.filter_subject"), "{err}");
}

#[test]
fn syntax_and_env_errors() {
    let err = load("[adapter\nnation = 1", no_env()).unwrap_err();
    assert!(matches!(err, ConfigError::Syntax { .. }), "{err}");
    assert!(err.to_string().contains("site.toml"));

    let err = load(MIN, env(&[("TRILINK__NATS__URL__X", "1")])).unwrap_err();
    assert!(
        matches!(err, ConfigError::Env { ref var, .. } if var == "TRILINK__NATS__URL__X"),
        "{err}"
    );
    let err = load(MIN, env(&[("TRILINK__INGRESS__5__BIND", "1")])).unwrap_err();
    assert!(matches!(err, ConfigError::Env { .. }), "{err}");
    let err = load(MIN, env(&[("TRILINK____X", "1")])).unwrap_err();
    assert!(matches!(err, ConfigError::Env { .. }), "{err}");

    // A typo or a bad value in an override is blamed on the variable, not the file
    // (issue 18 item 6), and a plain bad value is shown.
    let err = load(MIN, env(&[("TRILINK__NATS__PASSWROD", "x")])).unwrap_err();
    assert_eq!(err.key(), Some("nats.passwrod"), "{err}");
    assert!(
        err.to_string()
            .starts_with("environment variable TRILINK__NATS__PASSWROD"),
        "{err}"
    );
    let err = load(
        MIN,
        env(&[("TRILINK__NATS__CONNECT_TIMEOUT_MS", "\"soon\"")]),
    )
    .unwrap_err();
    assert!(matches!(err, ConfigError::Field { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("environment variable TRILINK__NATS__CONNECT_TIMEOUT_MS"),
        "{err}"
    );
    assert!(err.to_string().contains("(value \"soon\")"), "{err}");
    let in_file = MIN.replace("[nats]\n", "[nats]\nconnect_timeout_ms = \"soon\"\n");
    let err = load(&in_file, no_env()).unwrap_err();
    assert!(err.to_string().starts_with("site.toml"), "{err}");
    assert!(err.to_string().contains("(value \"soon\")"), "{err}");

    let err = config::load::<AdapterConfig>(Path::new("/nonexistent/x.toml")).unwrap_err();
    assert!(matches!(err, ConfigError::Io { .. }));
    assert!(err.to_string().contains("/nonexistent/x.toml"));
}

#[test]
fn egress_state_dir_from_file_and_environment() {
    let egress = format!(
        "{MIN}\n[egress]\nstream = \"S\"\ndurable = \"d\"\n[[egress.outputs]]\ntype = \"udp\"\ntarget = \"127.0.0.1:1\"\n"
    );
    // Absent: delivered ids in memory only.
    let cfg = load(&egress, no_env()).unwrap();
    let e = cfg.egress.unwrap();
    assert_eq!(e.state_dir, None);
    assert!(!e.state_fsync);

    // In the file.
    let text = egress.replace(
        "durable = \"d\"\n",
        "durable = \"d\"\nstate_dir = \"/var/lib/trilink/adapter-jp\"\nstate_fsync = true\n",
    );
    let e = load(&text, no_env()).unwrap().egress.unwrap();
    assert_eq!(
        e.state_dir.as_deref(),
        Some(Path::new("/var/lib/trilink/adapter-jp"))
    );
    assert!(e.state_fsync);

    // From the environment (a path is read as a plain string).
    let e = load(
        &egress,
        env(&[("TRILINK__EGRESS__STATE_DIR", "/srv/trilink/state-jp")]),
    )
    .unwrap()
    .egress
    .unwrap();
    assert_eq!(
        e.state_dir.as_deref(),
        Some(Path::new("/srv/trilink/state-jp"))
    );

    // Bad values name the key.
    let err = load(&egress, env(&[("TRILINK__EGRESS__STATE_DIR", "\"\"")])).unwrap_err();
    assert!(matches!(err, ConfigError::Invalid { .. }), "{err}");
    assert_eq!(err.key(), Some("egress.state_dir"), "{err}");
    let err = load(&egress, env(&[("TRILINK__EGRESS__STATE_FSYNC", "true")])).unwrap_err();
    assert_eq!(err.key(), Some("egress.state_fsync"), "{err}");
    let err = load(&egress, env(&[("TRILINK__EGRESS__STATE_FSYNC", "yes")])).unwrap_err();
    assert!(matches!(err, ConfigError::Field { .. }), "{err}");
    assert_eq!(err.key(), Some("egress.state_fsync"), "{err}");
    let err = load(
        &egress.replace(
            "durable = \"d\"\n",
            "durable = \"d\"\nstate_directory = \"/x\"\n",
        ),
        no_env(),
    )
    .unwrap_err();
    assert_eq!(err.key(), Some("egress.state_directory"), "{err}");
}

#[test]
fn egress_max_in_flight_default_and_bounds() {
    let egress = format!(
        "{MIN}\n[egress]\nstream = \"S\"\ndurable = \"d\"\n[[egress.outputs]]\ntype = \"udp\"\ntarget = \"127.0.0.1:1\"\n"
    );
    let e = load(&egress, no_env()).unwrap().egress.unwrap();
    assert_eq!(e.max_in_flight, adapter::EGRESS_MAX_IN_FLIGHT);
    assert!(e.max_in_flight <= e.max_ack_pending);

    // 1 is the one-at-a-time egress; the window may not exceed max_ack_pending.
    let with =
        |lines: &str| egress.replace("durable = \"d\"\n", &format!("durable = \"d\"\n{lines}\n"));
    let e = load(&with("max_in_flight = 1"), no_env())
        .unwrap()
        .egress
        .unwrap();
    assert_eq!(e.max_in_flight, 1);
    let e = load(
        &with("max_in_flight = 512\nmax_ack_pending = 512"),
        no_env(),
    )
    .unwrap()
    .egress
    .unwrap();
    assert_eq!(e.max_in_flight, 512);
    let e = load(&egress, env(&[("TRILINK__EGRESS__MAX_IN_FLIGHT", "8")]))
        .unwrap()
        .egress
        .unwrap();
    assert_eq!(e.max_in_flight, 8);
    for bad in [
        "max_in_flight = 0",
        "max_in_flight = 65536\nmax_ack_pending = 100000",
        "max_in_flight = 65\nmax_ack_pending = 64",
    ] {
        let err = load(&with(bad), no_env()).unwrap_err();
        assert!(matches!(err, ConfigError::Invalid { .. }), "{bad}: {err}");
        assert_eq!(err.key(), Some("egress.max_in_flight"), "{bad}: {err}");
    }
    let err = load(&with("max_in_flight = -1"), no_env()).unwrap_err();
    assert_eq!(err.key(), Some("egress.max_in_flight"), "{err}");
}

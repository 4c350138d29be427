//! Checks that need no network: URL syntax, ports, files present and readable, certificates
//! that parse and are inside their validity period, NATS credentials files and nkey seeds that
//! are well formed. Used by the configurations' `Validate` (syntax) and by `--check` (files,
//! with the time passed in).
//!
//! Nothing here connects anywhere or changes a file.

use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::config::Invalid;

/// NATS URL schemes trilink accepts.
pub const NATS_SCHEMES: [&str; 4] = ["nats", "tls", "ws", "wss"];

/// A port that a process connects to or listens on: 1–65535.
pub fn port(key: &str, port: u16) -> Result<(), Invalid> {
    if port == 0 {
        return Err(Invalid::new(key, "port 0: must be 1-65535"));
    }
    Ok(())
}

/// Parse `HOST:PORT` (IPv6 in brackets) into host and port; `default_port` when the port is
/// left out (None: the port is required).
fn host_port(text: &str, default_port: Option<u16>) -> Result<(&str, u16), String> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (h, after) = rest
            .split_once(']')
            .ok_or_else(|| "IPv6 address without the closing `]`".to_owned())?;
        (h, after.strip_prefix(':'))
    } else {
        match text.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (text, None),
        }
    };
    if host.is_empty() {
        return Err("no host".into());
    }
    if let Some(bad) = host
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':')))
    {
        return Err(format!("host {host:?} contains {bad:?}"));
    }
    let port = match (port, default_port) {
        (Some(p), _) => {
            let n: u64 = p
                .parse()
                .map_err(|_| format!("port {p:?} is not a number"))?;
            match u16::try_from(n) {
                Ok(0) | Err(_) => return Err(format!("port {n} is out of range 1-65535")),
                Ok(n) => n,
            }
        }
        (None, Some(d)) => d,
        (None, None) => return Err("no port".into()),
    };
    Ok((host, port))
}

/// One URL `scheme://[user[:password]@]host[:port][/path]` with a scheme from `schemes`;
/// `host[:port]` alone is taken as the first scheme. The message never repeats a password.
pub fn url(key: &str, text: &str, schemes: &[&str], default_port: u16) -> Result<(), Invalid> {
    let shown = mask_url(text);
    let bad = |why: String| Invalid::new(key, format!("{shown:?}: {why}"));
    let rest = match text.split_once("://") {
        Some((scheme, rest)) => {
            if !schemes.contains(&scheme) {
                return Err(bad(format!(
                    "scheme {scheme:?} is not one of {}",
                    schemes.join(", ")
                )));
            }
            rest
        }
        None if text.contains('/') => {
            return Err(bad(format!(
                "not a URL: expected {}://HOST:PORT",
                schemes.first().copied().unwrap_or("nats")
            )));
        }
        None => text,
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    host_port(hostport, Some(default_port)).map_err(bad)?;
    Ok(())
}

/// A comma-separated list of NATS server URLs (default port 4222).
pub fn nats_urls(key: &str, urls: &str) -> Result<(), Invalid> {
    if urls.trim().is_empty() {
        return Err(Invalid::new(key, "must not be empty"));
    }
    for u in urls.split(',') {
        url(key, u.trim(), &NATS_SCHEMES, 4222)?;
    }
    Ok(())
}

/// A URL with any password replaced by `****`.
pub fn mask_url(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else {
        return text.to_owned();
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            let masked = if userinfo.contains(':') {
                format!("{user}:****")
            } else {
                user.to_owned()
            };
            format!("{scheme}://{masked}@{host}{path}")
        }
        None => text.to_owned(),
    }
}

/// The file exists, is a regular file and can be read.
pub fn readable_file(key: &str, path: &Path) -> Result<Vec<u8>, Invalid> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| Invalid::new(key, format!("{shown}: {e}")))?;
    if !meta.is_file() {
        return Err(Invalid::new(key, format!("{shown}: not a regular file")));
    }
    std::fs::read(path).map_err(|e| Invalid::new(key, format!("{shown}: cannot read: {e}")))
}

/// A directory that exists, or that can be created: the adapter creates it and any missing
/// parents (`create_dir_all`), so the nearest existing ancestor must be a directory.
pub fn directory(key: &str, path: &Path) -> Result<(), Invalid> {
    let shown = path.display();
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(Invalid::new(key, format!("{shown}: not a directory"))),
        Err(_) => {
            let nearest = path
                .ancestors()
                .skip(1)
                .find(|a| a.as_os_str().is_empty() || a.exists());
            match nearest {
                Some(a) if a.as_os_str().is_empty() || a.is_dir() => Ok(()),
                Some(a) => Err(Invalid::new(
                    key,
                    format!(
                        "{shown}: cannot be created, {} is not a directory",
                        a.display()
                    ),
                )),
                None => Err(Invalid::new(key, format!("{shown}: no existing parent"))),
            }
        }
    }
}

fn unix(t: SystemTime) -> Duration {
    t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default()
}

fn rfc3339(d: Duration) -> String {
    i64::try_from(d.as_secs())
        .ok()
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .map_or_else(
            || format!("{} s after 1970", d.as_secs()),
            |t| t.to_rfc3339(),
        )
}

/// A PEM file of one or more X.509 certificates, each inside its validity period at `now`.
/// Returns how many certificates it holds.
pub fn certificates(key: &str, path: &Path, now: SystemTime) -> Result<usize, Invalid> {
    use x509_cert::der::DecodePem;
    let bytes = readable_file(key, path)?;
    let shown = path.display();
    let text = String::from_utf8_lossy(&bytes);
    let begin = "-----BEGIN CERTIFICATE-----";
    let end = "-----END CERTIFICATE-----";
    let mut count = 0;
    let mut rest = text.as_ref();
    while let Some(start) = rest.find(begin) {
        let Some(stop) = rest[start..].find(end) else {
            return Err(Invalid::new(
                key,
                format!("{shown}: certificate {} has no END line", count + 1),
            ));
        };
        let block = &rest[start..start + stop + end.len()];
        rest = &rest[start + stop + end.len()..];
        count += 1;
        let cert = x509_cert::Certificate::from_pem(block).map_err(|e| {
            Invalid::new(
                key,
                format!("{shown}: certificate {count} does not parse: {e}"),
            )
        })?;
        let validity = &cert.tbs_certificate.validity;
        let subject = cert.tbs_certificate.subject.to_string();
        let from = validity.not_before.to_unix_duration();
        let until = validity.not_after.to_unix_duration();
        let at = unix(now);
        if at > until {
            return Err(Invalid::new(
                key,
                format!(
                    "{shown}: certificate {count} ({subject}) expired at {}",
                    rfc3339(until)
                ),
            ));
        }
        if at < from {
            return Err(Invalid::new(
                key,
                format!(
                    "{shown}: certificate {count} ({subject}) is not valid before {}",
                    rfc3339(from)
                ),
            ));
        }
    }
    if count == 0 {
        return Err(Invalid::new(
            key,
            format!("{shown}: no PEM certificate (-----BEGIN CERTIFICATE-----) in it"),
        ));
    }
    Ok(count)
}

/// A PEM private key (PKCS#8, PKCS#1 or SEC1).
pub fn private_key(key: &str, path: &Path) -> Result<(), Invalid> {
    use rustls::pki_types::PrivateKeyDer;
    use rustls::pki_types::pem::PemObject;
    let bytes = readable_file(key, path)?;
    PrivateKeyDer::from_pem_slice(&bytes)
        .map(|_| ())
        .map_err(|e| {
            Invalid::new(
                key,
                format!("{}: no usable PEM private key: {e}", path.display()),
            )
        })
}

/// An nkey user seed (`SU…`).
pub fn nkey_seed(key: &str, seed: &str) -> Result<(), Invalid> {
    if !seed.starts_with("SU") {
        return Err(Invalid::new(
            key,
            "not an nkey user seed (must start with SU)",
        ));
    }
    nkeys::KeyPair::from_seed(seed)
        .map(|_| ())
        .map_err(|e| Invalid::new(key, format!("not a valid nkey seed: {e}")))
}

/// The text between a `-----BEGIN <label>-----` line and the next `END` line.
fn armored(text: &str, label: &str) -> Option<String> {
    let begin = format!("BEGIN {label}");
    let mut lines = text.lines().skip_while(|l| !l.contains(&begin));
    lines.next()?;
    let body: String = lines
        .take_while(|l| !l.contains("END "))
        .map(str::trim)
        .collect();
    (!body.is_empty()).then_some(body)
}

/// A NATS `.creds` file: a user JWT block and a user nkey seed block.
pub fn creds_file(key: &str, path: &Path) -> Result<(), Invalid> {
    let bytes = readable_file(key, path)?;
    let shown = path.display();
    let text = String::from_utf8_lossy(&bytes);
    let jwt = armored(&text, "NATS USER JWT").ok_or_else(|| {
        Invalid::new(
            key,
            format!("{shown}: no -----BEGIN NATS USER JWT----- block"),
        )
    })?;
    let parts: Vec<&str> = jwt.split('.').collect();
    let b64url = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '='))
    };
    if parts.len() != 3 || !parts.iter().all(|p| b64url(p)) {
        return Err(Invalid::new(
            key,
            format!("{shown}: the user JWT is not three base64url parts separated by dots"),
        ));
    }
    let seed = armored(&text, "USER NKEY SEED").ok_or_else(|| {
        Invalid::new(
            key,
            format!("{shown}: no -----BEGIN USER NKEY SEED----- block"),
        )
    })?;
    nkey_seed(key, &seed).map_err(|e| Invalid::new(key, format!("{shown}: {}", e.message)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn urls() {
        assert!(nats_urls("u", "nats://127.0.0.1:4222").is_ok());
        assert!(nats_urls("u", "tls://hub.example:4222,nats://a:1").is_ok());
        assert!(nats_urls("u", "127.0.0.1:4222").is_ok());
        assert!(nats_urls("u", "nats://user:pw@[::1]:4222").is_ok());
        assert!(nats_urls("u", "wss://hub.example/ws").is_ok());
        let e = nats_urls("u", "htp:/127.0.0.1:4222").unwrap_err();
        assert!(e.message.contains("not a URL"), "{e}");
        let e = nats_urls("u", "http://127.0.0.1:4222").unwrap_err();
        assert!(e.message.contains("scheme \"http\""), "{e}");
        let e = nats_urls("u", "nats://127.0.0.1:99999").unwrap_err();
        assert!(
            e.message.contains("port 99999 is out of range 1-65535"),
            "{e}"
        );
        let e = nats_urls("u", "nats://127.0.0.1:0").unwrap_err();
        assert!(e.message.contains("port 0"), "{e}");
        let e = nats_urls("u", "nats://:4222").unwrap_err();
        assert!(e.message.contains("no host"), "{e}");
        let e = nats_urls("u", "nats://u:secret@h:x").unwrap_err();
        assert!(!e.message.contains("secret"), "{e}");
    }

    #[test]
    fn masks_passwords_in_urls() {
        assert_eq!(mask_url("nats://u:pw@h:1/x"), "nats://u:****@h:1/x");
        assert_eq!(mask_url("nats://h:1"), "nats://h:1");
        assert_eq!(mask_url("nats://tok@h:1"), "nats://tok@h:1");
    }

    fn cert(name: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/certs")
            .join(name)
    }

    #[test]
    fn certificate_validity() {
        let now = SystemTime::now();
        assert_eq!(certificates("k", &cert("valid-ca.pem"), now).unwrap(), 1);
        let e = certificates("k", &cert("expired.pem"), now).unwrap_err();
        assert!(
            e.message
                .contains("CN=expired-test) expired at 2020-01-02T00:00:00+00:00"),
            "{e}"
        );
        let e = certificates("k", &cert("valid-ca.pem"), SystemTime::UNIX_EPOCH).unwrap_err();
        assert!(e.message.contains("is not valid before"), "{e}");
        let e = certificates("k", &cert("key.pem"), now).unwrap_err();
        assert!(e.message.contains("no PEM certificate"), "{e}");
        let e = certificates("k", &cert("README.md"), now).unwrap_err();
        assert!(e.message.contains("no PEM certificate"), "{e}");
        private_key("k", &cert("key.pem")).unwrap();
        assert!(private_key("k", &cert("valid-ca.pem")).is_err());
    }

    #[test]
    fn creds() {
        let dir = tempfile::tempdir().unwrap();
        let kp = nkeys::KeyPair::new_user();
        let seed = kp.seed().unwrap();
        let good = format!(
            "-----BEGIN NATS USER JWT-----\neyJhbGciOi.eyJqdGkiOi.c2ln\n------END NATS USER JWT------\n\n************************* IMPORTANT *************************\n\n-----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n"
        );
        let p = dir.path().join("good.creds");
        std::fs::write(&p, &good).unwrap();
        creds_file("c", &p).unwrap();
        let p2 = dir.path().join("bad.creds");
        std::fs::write(&p2, good.replace(&seed, "SUxxxx")).unwrap();
        assert!(creds_file("c", &p2).unwrap_err().message.contains("nkey"));
        std::fs::write(&p2, "user = x\n").unwrap();
        assert!(
            creds_file("c", &p2)
                .unwrap_err()
                .message
                .contains("NATS USER JWT")
        );
        let e = creds_file("c", &dir.path().join("missing.creds")).unwrap_err();
        assert!(e.message.contains("missing.creds"), "{e}");
    }
}

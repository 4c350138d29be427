//! Development certificates for the broker topology, made in-process with `rcgen` (no `openssl`
//! on the machine). NOT for production: `deploy/make-certs.sh` makes a site's certificates.
//!
//! The set and its names are what the broker configs, the tests and `trilink broker up` expect:
//!
//! | files | what |
//! |---|---|
//! | `ca.pem` `ca-key.pem` | dev CA "O=trilink, CN=trilink dev CA": hub, leaf and client trust |
//! | `hub.pem` `hub-key.pem` | hub server cert (localhost, 127.0.0.1), serverAuth + clientAuth |
//! | `route-ca.pem` `route-ca-key.pem` | route-only CA: signs nothing but hub route certificates |
//! | `route.pem` `route-key.pem` | hub route cert (routes between hub cluster nodes) |
//! | `leaf-jp.pem`, `leaf-kr.pem` (+ keys) | leaf client certs, subject `CN=leaf-<n>,O=trilink` → account |
//! | `leaf-xx.pem` (+ key) | negative case: the dev CA, but a nation the hub does not know |
//! | `rogue-ca.pem`, `rogue-leaf-jp.pem` (+ keys) | negative case: `CN=leaf-jp,O=trilink` from another CA |
//!
//! ECDSA P-256 keys, 30 days of validity from today (00:00 UTC), keys written mode 0600.

use std::fs;
use std::path::Path;

use chrono::{Datelike as _, Days, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, date_time_ymd,
};

use crate::launcher::LaunchError;

/// How long the development certificates are valid.
const VALID_DAYS: u64 = 30;

/// What a certificate is for.
#[derive(Clone, Copy)]
enum Kind {
    Ca,
    /// serverAuth + clientAuth, SAN localhost and 127.0.0.1 (hub client/leaf listeners, routes)
    Server,
    /// clientAuth only (leaf connections)
    Client,
}

fn params(org: &str, cn: &str, kind: Kind) -> Result<CertificateParams, rcgen::Error> {
    let mut p = match kind {
        Kind::Server => {
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?
        }
        Kind::Ca | Kind::Client => CertificateParams::new(Vec::<String>::new())?,
    };
    let mut dn = DistinguishedName::new();
    // O first, then CN: the order `openssl -subj /O=…/CN=…` gives, which nats-server's
    // `verify_and_map` renders as "CN=leaf-jp,O=trilink" (the user names in the accounts).
    dn.push(DnType::OrganizationName, org);
    dn.push(DnType::CommonName, cn);
    p.distinguished_name = dn;
    let today = Utc::now().date_naive();
    let until = today
        .checked_add_days(Days::new(VALID_DAYS))
        .unwrap_or(today);
    let ymd = |d: chrono::NaiveDate| {
        date_time_ymd(
            d.year(),
            u8::try_from(d.month()).unwrap_or(1),
            u8::try_from(d.day()).unwrap_or(1),
        )
    };
    p.not_before = ymd(today);
    p.not_after = ymd(until);
    match kind {
        Kind::Ca => {
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        }
        Kind::Server | Kind::Client => {
            p.is_ca = IsCa::ExplicitNoCa;
            p.key_usages = vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::KeyEncipherment,
            ];
            p.extended_key_usages = match kind {
                Kind::Server => vec![
                    ExtendedKeyUsagePurpose::ServerAuth,
                    ExtendedKeyUsagePurpose::ClientAuth,
                ],
                _ => vec![ExtendedKeyUsagePurpose::ClientAuth],
            };
            p.use_authority_key_identifier_extension = true;
        }
    }
    Ok(p)
}

fn write(out: &Path, name: &str, cert_pem: &str, key: &KeyPair) -> Result<(), LaunchError> {
    let io = |what: String| move |e: std::io::Error| LaunchError::Io { what, source: e };
    let cert_path = out.join(format!("{name}.pem"));
    fs::write(&cert_path, cert_pem).map_err(io(format!("writing {}", cert_path.display())))?;
    let key_path = out.join(format!("{name}-key.pem"));
    fs::write(&key_path, key.serialize_pem())
        .map_err(io(format!("writing {}", key_path.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(&key_path, fs::Permissions::from_mode(0o600))
            .map_err(io(format!("chmod {}", key_path.display())))?;
    }
    Ok(())
}

/// A CA: written, and returned as an issuer for the certificates it signs.
fn ca(
    out: &Path,
    name: &str,
    org: &str,
    cn: &str,
) -> Result<Issuer<'static, KeyPair>, LaunchError> {
    let key = KeyPair::generate().map_err(certs_error)?;
    let p = params(org, cn, Kind::Ca).map_err(certs_error)?;
    let cert = p.self_signed(&key).map_err(certs_error)?;
    write(out, name, &cert.pem(), &key)?;
    Ok(Issuer::new(p, key))
}

fn signed(
    out: &Path,
    name: &str,
    org: &str,
    cn: &str,
    kind: Kind,
    issuer: &Issuer<'_, KeyPair>,
) -> Result<(), LaunchError> {
    let key = KeyPair::generate().map_err(certs_error)?;
    let cert = params(org, cn, kind)
        .and_then(|p| p.signed_by(&key, issuer))
        .map_err(certs_error)?;
    write(out, name, &cert.pem(), &key)
}

#[allow(clippy::needless_pass_by_value)] // used as `map_err(certs_error)`
fn certs_error(e: rcgen::Error) -> LaunchError {
    LaunchError::Certs(e.to_string())
}

/// Write the development certificate set into `out` (created if missing).
pub fn write_dev_certs(out: &Path) -> Result<(), LaunchError> {
    fs::create_dir_all(out).map_err(|e| LaunchError::Io {
        what: format!("creating {}", out.display()),
        source: e,
    })?;
    let dev = ca(out, "ca", "trilink", "trilink dev CA")?;
    let rogue = ca(out, "rogue-ca", "rogue", "rogue CA")?;
    let route = ca(out, "route-ca", "trilink", "trilink dev route CA")?;
    signed(out, "hub", "trilink", "hub", Kind::Server, &dev)?;
    signed(out, "route", "trilink", "hub-route", Kind::Server, &route)?;
    for nation in ["jp", "kr", "xx"] {
        let name = format!("leaf-{nation}");
        signed(out, &name, "trilink", &name, Kind::Client, &dev)?;
    }
    signed(
        out,
        "rogue-leaf-jp",
        "trilink",
        "leaf-jp",
        Kind::Client,
        &rogue,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whole_set_is_written_with_private_keys() {
        let dir = tempfile::tempdir().expect("tempdir");
        write_dev_certs(dir.path()).expect("certs");
        for name in [
            "ca",
            "rogue-ca",
            "route-ca",
            "hub",
            "route",
            "leaf-jp",
            "leaf-kr",
            "leaf-xx",
            "rogue-leaf-jp",
        ] {
            let cert = fs::read_to_string(dir.path().join(format!("{name}.pem"))).expect(name);
            assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"), "{name}");
            let key = dir.path().join(format!("{name}-key.pem"));
            assert!(
                fs::read_to_string(&key)
                    .expect(name)
                    .contains("PRIVATE KEY")
            );
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                let mode = fs::metadata(&key).expect(name).permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "{name}-key.pem");
            }
        }
    }
}

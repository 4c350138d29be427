#!/usr/bin/env bash
# trilink's main job (README quick start, first command): the live three-nation demo.
# Installs mosquitto from Debian's packages and the current nats-server release (pinned by
# version and hash, .ci/nats-current.sh) when missing, builds trilink, and runs `trilink demo`
# with any arguments given (e.g. --scenario salvo --speed 4 --keep-running). NATS_SERVER_BIN
# chooses another nats-server (e.g. Debian's 2.9.10: NATS_SERVER_BIN=/usr/sbin/nats-server).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing ${need[*]} (Debian packages)"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
fi
export PATH="$PATH:/usr/sbin"
if [ -z "${NATS_SERVER_BIN:-}" ]; then
  NATS_SERVER_BIN=$(bash .ci/nats-current.sh)
  export NATS_SERVER_BIN
fi

cargo build --release -q -p trilink
exec ./target/release/trilink demo "$@"

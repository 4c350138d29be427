#!/bin/sh
# Render the production nats-server configs in deploy/etc/trilink/nats/ from the templates in
# broker-config/conf/ (the single source of truth for accounts, permissions and TLS), so the
# deployed servers enforce exactly what the broker tests test.
#
#   deploy/render-nats-confs.sh [outdir]     (default: deploy/etc/trilink/nats)
#
# Fixed production values: client port 4222, leafnode port 7422 (hub), cluster port 6222 (hub),
# monitoring 127.0.0.1:8222, certificates in /etc/trilink/certs, JetStream data in
# /var/lib/trilink/<server>. Site-specific values are nats-server environment references,
# resolved when the server starts (systemd EnvironmentFile, compose env_file, Kubernetes Secret):
#   $PASS_*            passwords: a letter, then letters/digits only (echo "p$(openssl rand -hex 24)");
#                      nats-server parses the value and reads one starting with a digit as a number
#   $HUB_LEAF_URLS     leaves: the hub's leafnode URL(s), e.g. ["tls://hub.example:7422"]
#   $HUB_SERVER_NAME   clustered hub: this node's name (hub-1, hub-2, hub-3)
#   $HUB_ROUTES        clustered hub: the other nodes with the route password, e.g.
#                      ["nats-route://route:<PASS_ROUTE>@hub-2.example:6222", ...]
# The JP/KR leaf listens on 127.0.0.1:4222 (its adapter runs on the same host); containers
# override the address with `nats-server --addr 0.0.0.0`.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src="$here/../broker-config/conf"
out=${1:-"$here/etc/trilink/nats"}
mkdir -p "$out"

header() {
  cat <<EOF
# GENERATED from broker-config/conf/$1 by deploy/render-nats-confs.sh — do not edit here;
# edit the template and re-run the script (deploy/check.sh fails when this copy is stale).
# \$NAME references are read from nats-server's environment at start-up; an unset one stops
# the server with "variable reference for 'NAME' ... can not be found".
EOF
}

common='s/"\{\{(PASS_[A-Z_]+)\}\}"/$\1/g
s#\{\{CERT_DIR\}\}#/etc/trilink/certs#g
s#127\.0\.0\.1:\{\{MONITOR_PORT\}\}#127.0.0.1:8222#g'

render() { # template output extra-sed
  { header "$1"; sed -E -e "$common" -e "$3" "$src/$1"; } > "$out/$2.tmp"
  if grep -n '{{' "$out/$2.tmp" >&2; then
    echo "render-nats-confs: placeholder left in $2" >&2
    rm -f "$out/$2.tmp"
    exit 1
  fi
  mv "$out/$2.tmp" "$out/$2"
}

render hub-accounts.conf hub-accounts.conf ''
render hub.conf hub.conf 's#\{\{SERVER_NAME\}\}#hub-1#
s#127\.0\.0\.1:\{\{CLIENT_PORT\}\}#0.0.0.0:4222#
s#127\.0\.0\.1:\{\{LEAF_PORT\}\}#0.0.0.0:7422#
s#\{\{STORE_DIR\}\}#/var/lib/trilink/nats-hub#'
render hub-cluster.conf hub-cluster.conf 's#\{\{SERVER_NAME\}\}#$HUB_SERVER_NAME#
s#127\.0\.0\.1:\{\{CLIENT_PORT\}\}#0.0.0.0:4222#
s#127\.0\.0\.1:\{\{LEAF_PORT\}\}#0.0.0.0:7422#
s#127\.0\.0\.1:\{\{CLUSTER_PORT\}\}#0.0.0.0:6222#
s#routes: \[ \{\{ROUTES\}\} \]#routes: $HUB_ROUTES#
s#\{\{STORE_DIR\}\}#/var/lib/trilink/nats-hub#'
for n in jp kr; do
  render "leaf-$n.conf" "leaf-$n.conf" "s#\\{\\{SERVER_NAME\\}\\}#leaf-$n#
s#127\\.0\\.0\\.1:\\{\\{CLIENT_PORT\\}\\}#127.0.0.1:4222#
s#urls: \\[ \\{\\{HUB_LEAF_URLS\\}\\} \\]#urls: \$HUB_LEAF_URLS#
s#\\{\\{LEAF_CERT\\}\\}#leaf-$n#g
s#\\{\\{LEAF_CA\\}\\}#ca#g
s#\\{\\{STORE_DIR\\}\\}#/var/lib/trilink/nats-leaf-$n#"
done
echo "rendered nats-server configs into $out"

#!/bin/sh
# Create (or update) the ConfigMaps and Secrets the trilink manifests mount, from the files in
# deploy/ — nothing is duplicated into the manifests. Run from the repository root:
#
#   sh deploy/k8s/config.sh hub  <certdir> <hub-env-file> <relay.toml>      # hub cluster
#   sh deploy/k8s/config.sh jp   <certdir> <leaf-env-file>                  # JP site cluster
#   sh deploy/k8s/config.sh kr   <certdir> <leaf-env-file>                  # KR site cluster
#
#   <certdir>        output of deploy/make-certs.sh (only the files the site needs are stored)
#   <hub-env-file>   filled-in copy of deploy/etc/default/trilink-nats-hub (PASS_* lines)
#   <leaf-env-file>  filled-in copy of deploy/etc/default/trilink-nats-leaf-<n> (PASS_*, HUB_LEAF_URLS)
#   <relay.toml>     filled-in copy of deploy/etc/trilink/relay.toml (with
#                    nats_url = "nats://trilink-nats-hub:4222")
#
# KUBECTL (default kubectl) and NAMESPACE (default trilink) are honoured. Secrets are applied with
# `kubectl apply`, so re-running the script after a certificate rotation updates them.
set -eu
kubectl=${KUBECTL:-kubectl}
ns=${NAMESPACE:-trilink}
here=$(cd "$(dirname "$0")/.." && pwd)
role=${1:?usage: config.sh hub|jp|kr <certdir> <env-file> [relay.toml]}
certs=${2:?certificate directory}
envfile=${3:?environment file}

apply() { "$kubectl" -n "$ns" "$@" --dry-run=client -o yaml | "$kubectl" -n "$ns" apply -f -; }

# Only the PASS_*, HUB_* and KR_MQTT_PASSWORD lines, without the quotes systemd needs around HUB_LEAF_URLS.
clean_env() { grep -E '^(PASS_|HUB_|KR_MQTT_PASSWORD=)' "$1" | sed -E "s/^([A-Z_]+)='(.*)'$/\\1=\\2/"; }

apply create configmap trilink-nats-conf --from-file="$here/etc/trilink/nats/"
case "$role" in
  hub)
    relay=${4:?relay.toml}
    clean_env "$envfile" > "$certs/.hub.env"
    apply create secret generic trilink-hub-passwords --from-env-file="$certs/.hub.env"
    rm -f "$certs/.hub.env"
    # route-ca/route are the clustered hub's route identity (deploy/make-certs.sh); a single hub
    # does not read them.
    apply create secret generic trilink-hub-tls --from-file=ca.pem="$certs/ca.pem" \
      --from-file=hub.pem="$certs/hub.pem" --from-file=hub-key.pem="$certs/hub-key.pem" \
      --from-file=route-ca.pem="$certs/route-ca.pem" --from-file=route.pem="$certs/route.pem" \
      --from-file=route-key.pem="$certs/route-key.pem"
    apply create secret generic trilink-relay-config --from-file=relay.toml="$relay"
    apply create configmap trilink-policy \
      --from-file=policy.toml="$here/../broker-config/policies/default-trilateral.toml"
    apply create configmap trilink-adapter-us --from-file=adapter-us.toml="$here/etc/trilink/adapter-us.toml"
    ;;
  jp|kr)
    clean_env "$envfile" > "$certs/.leaf.env"
    apply create secret generic "trilink-leaf-$role-passwords" --from-env-file="$certs/.leaf.env"
    rm -f "$certs/.leaf.env"
    apply create secret generic "trilink-leaf-$role-tls" --from-file=ca.pem="$certs/ca.pem" \
      --from-file="leaf-$role.pem=$certs/leaf-$role.pem" --from-file="leaf-$role-key.pem=$certs/leaf-$role-key.pem"
    apply create configmap "trilink-adapter-$role" --from-file="adapter-$role.toml=$here/etc/trilink/adapter-$role.toml"
    ;;
  *) echo "config.sh: role must be hub, jp or kr" >&2; exit 2 ;;
esac

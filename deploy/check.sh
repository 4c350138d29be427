#!/usr/bin/env bash
# Check deploy/ against the code and the real tools, as far as this machine allows:
#
#   bash deploy/check.sh
#
#  1. the nats-server configs in deploy/etc/trilink/nats are current renderings of broker-config/conf
#  2. `nats-server -t` accepts each of them (with the environment the systemd units provide)
#  3. live: a hub and the JP and KR leaves started from those configs (ports moved to free loopback
#     ports, certificates from deploy/make-certs.sh) form both mutual-TLS leaf links, bound to the
#     JP and KR accounts; a hub certificate without the leaves' hub name is refused; the stream
#     initialisation of compose (streams-* services) and Kubernetes (Job trilink-streams-hub, the
#     sites' "streams" init containers) runs as written against them
#  4. `systemd-analyze verify` reports nothing for the units (binary paths pointed at this build)
#  5. compose, Kubernetes and Prometheus files are valid YAML; the Grafana dashboard is valid JSON
#  6. every trilink_* metric used by the dashboard and the alerts exists in the code
#  7. `trilink adapter --check` / `trilink relay --check` accept the example configs (with the
#     environment files), and an adapter config without its password is refused
#  8. live: the example relay and JP/KR/US adapter configs carry a JP frame to the US national system
#     (TCP) and the KR national broker (mosquitto) through development brokers (`trilink broker up`); SKIP_LIVE_LINK=1 skips this step
#
# Needs: nats-server (NATS_SERVER_BIN honoured), openssl, python3 with PyYAML, systemd-analyze,
# a built `trilink` (TRILINK_BIN, default target/debug/trilink). Every process it starts is
# stopped by PID on exit. Exit 0 when everything passed, 1 otherwise.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
nats_bin=${NATS_SERVER_BIN:-$(command -v nats-server || echo /usr/sbin/nats-server)}
trilink_bin=${TRILINK_BIN:-$root/target/debug/trilink}
work=$(mktemp -d)
pids=()
failures=0

cleanup() {
  for p in "${pids[@]}"; do
    kill "$p" 2>/dev/null
  done
  for p in "${pids[@]}"; do
    wait "$p" 2>/dev/null
  done
  rm -rf "$work"
}
trap cleanup EXIT

ok() { echo "ok   $*"; }
fail() { echo "FAIL $*"; failures=$((failures + 1)); }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ------------------------------------------------------------------ 1. rendering is current
sh "$here/render-nats-confs.sh" "$work/rendered" >/dev/null
if diff -r "$work/rendered" "$here/etc/trilink/nats" >"$work/diff" 2>&1; then
  ok "deploy/etc/trilink/nats matches broker-config/conf"
else
  fail "deploy/etc/trilink/nats is stale: run deploy/render-nats-confs.sh"
  head -20 "$work/diff"
fi

# ------------------------------------------------------------------ 2. nats-server -t
export PASS_ADAPTER_JP=p$(openssl rand -hex 16) PASS_ADAPTER_KR=p$(openssl rand -hex 16)
export PASS_ADAPTER_US=p$(openssl rand -hex 16) PASS_RELAY_JP=p$(openssl rand -hex 16)
export PASS_RELAY_KR=p$(openssl rand -hex 16) PASS_RELAY_US=p$(openssl rand -hex 16)
export PASS_ADMIN_JP=p$(openssl rand -hex 16) PASS_ADMIN_KR=p$(openssl rand -hex 16)
export PASS_ADMIN_US=p$(openssl rand -hex 16) PASS_SYS=p$(openssl rand -hex 16)
export PASS_VIEWER_JP=p$(openssl rand -hex 16) PASS_VIEWER_KR=p$(openssl rand -hex 16)
export PASS_VIEWER_US=p$(openssl rand -hex 16)
export PASS_ROUTE=p$(openssl rand -hex 16)
export PASS_LEAF_JP_ADMIN=p$(openssl rand -hex 16) PASS_LEAF_JP_SYS=p$(openssl rand -hex 16)
export PASS_LEAF_KR_ADMIN=p$(openssl rand -hex 16) PASS_LEAF_KR_SYS=p$(openssl rand -hex 16)
export HUB_SERVER_NAME=hub-1
export HUB_ROUTES='["tls://hub-2.example:6222", "tls://hub-3.example:6222"]'
export HUB_LEAF_URLS='["tls://hub.example:7422"]'
# (-t opens the certificates: point the configs at a fresh set, nothing else changes)
sh "$here/make-certs.sh" "$work/certs" localhost 127.0.0.1 >/dev/null
mkdir -p "$work/t"
for f in "$here"/etc/trilink/nats/*.conf; do
  sed "s#/etc/trilink/certs#$work/certs#g" "$f" >"$work/t/$(basename "$f")"
done
for conf in hub hub-cluster leaf-jp leaf-kr; do
  if out=$("$nats_bin" -t -c "$work/t/$conf.conf" 2>&1); then
    ok "nats-server -t $conf.conf"
  else
    fail "nats-server -t $conf.conf: $out"
  fi
done
if out=$(env -u PASS_SYS "$nats_bin" -t -c "$work/t/hub.conf" 2>&1); then
  fail "hub.conf accepted without PASS_SYS in the environment"
else
  ok "hub.conf refused without PASS_SYS ($(echo "$out" | tail -1))"
fi

# nats-server 2.9 reads a digit-leading value as a number and refuses it; 2.10 and later read
# it as a string. The README's rule (a letter first) is for both.
server_version=$("$nats_bin" --version 2>&1 | tail -1)
if out=$(PASS_SYS=4e3f00 "$nats_bin" -t -c "$work/t/hub.conf" 2>&1); then
  case "$server_version" in
    *v2.9.*) fail "hub.conf accepted a password starting with a digit on $server_version (the README says 2.9 refuses it)" ;;
    *) ok "hub.conf accepts a password starting with a digit on $server_version (2.9 refuses it: the README's rule is a letter first)" ;;
  esac
else
  ok "hub.conf refuses a password starting with a digit on $server_version ($(echo "$out" | tail -1 | cut -c1-90)...)"
fi

# ------------------------------------------------------------------ 3. live hub + leaves
sh "$here/make-certs.sh" "$work/certs-wrong" hub.example >/dev/null
mkdir -p "$work/live" "$work/data"
hub_client=$(free_port) hub_leaf=$(free_port) hub_mon=$(free_port)

localize() { # conf certdir client-port monitor-port -> stdout
  sed -e "s#/etc/trilink/certs#$2#g" -e "s#/var/lib/trilink#$work/data#g" \
    -e "s#\"0\\.0\\.0\\.0:4222\"#\"127.0.0.1:$3\"#" -e "s#\"127\\.0\\.0\\.1:4222\"#\"127.0.0.1:$3\"#" \
    -e "s#\"0\\.0\\.0\\.0:7422\"#\"127.0.0.1:$hub_leaf\"#" -e "s#127\\.0\\.0\\.1:8222#127.0.0.1:$4#" \
    "$here/etc/trilink/nats/$1.conf"
}
cp "$here/etc/trilink/nats/hub-accounts.conf" "$work/live/"
localize hub "$work/certs" "$hub_client" "$hub_mon" >"$work/live/hub.conf"
"$nats_bin" -c "$work/live/hub.conf" -l "$work/live/hub.log" &
pids+=($!)
leaf_ports=()
for n in jp kr; do
  c=$(free_port) m=$(free_port)
  leaf_ports+=("$c")
  localize "leaf-$n" "$work/certs" "$c" "$m" >"$work/live/leaf-$n.conf"
  HUB_LEAF_URLS="[\"tls://localhost:$hub_leaf\"]" \
    "$nats_bin" -c "$work/live/leaf-$n.conf" -l "$work/live/leaf-$n.log" &
  pids+=($!)
done
leafz() {
  python3 - "$1" <<'EOF'
import json, sys, urllib.request
try:
    d = json.load(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/leafz", timeout=2))
    print(" ".join(sorted(l.get("account", "?") for l in d.get("leafs", []))))
except Exception:
    print("")
EOF
}
accounts=""
for _ in $(seq 1 40); do
  accounts=$(leafz "$hub_mon")
  [ "$accounts" = "JP KR" ] && break
  sleep 0.25
done
if [ "$accounts" = "JP KR" ]; then
  ok "live: hub has both leaf links over mTLS, accounts: $accounts"
else
  fail "live: hub leaf links: '$accounts' (want 'JP KR'); see logs below"
  tail -n 5 "$work/live/"*.log
fi
# The adapter user can log in on its leaf with the password from the environment.
login() { # port user password [CA file: the port is TLS-only]
  python3 - "$@" <<'EOF'
import socket, ssl, sys
port, user, pw = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.create_connection(("127.0.0.1", port), timeout=3)
s.recv(4096)
if len(sys.argv) > 4:
    ctx = ssl.create_default_context(cafile=sys.argv[4])
    ctx.check_hostname = False  # the hub's certificate names the hub's DNS name, not 127.0.0.1
    s = ctx.wrap_socket(s)
s.sendall(f'CONNECT {{"user":"{user}","pass":"{pw}","verbose":false}}\r\nPING\r\n'.encode())
s.settimeout(2)
data = b""
while b"PONG" not in data and b"-ERR" not in data:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
print("PONG" if b"PONG" in data else data.decode(errors="replace").strip())
EOF
}
r=$(login "${leaf_ports[0]}" adapter-jp "$PASS_ADAPTER_JP")
[ "$r" = PONG ] && ok "live: adapter-jp logs in on the JP leaf" || fail "live: adapter-jp login: $r"
r=$(login "${leaf_ports[0]}" adapter-jp wrong-password)
[ "$r" != PONG ] && ok "live: wrong password refused ($r)" || fail "live: wrong password accepted"
r=$(login "$hub_client" relay-kr "$PASS_RELAY_KR" "$work/certs/ca.pem")
[ "$r" = PONG ] && ok "live: relay-kr logs in on the hub over TLS" || fail "live: relay-kr login: $r"
r=$(login "$hub_client" relay-kr "$PASS_RELAY_KR")
[ "$r" != PONG ] && ok "live: plaintext login on the hub's client port refused ($r)" || fail "live: the hub's client port accepted a plaintext login"
# The stream initialisation of compose (streams-* services) and Kubernetes (Job
# trilink-streams-hub, the sites' "streams" init containers), run as written — entrypoint,
# command, arguments and password variables — against these servers (host names and the CA
# path moved to this run's); each must report its streams ready.
if PATH="$(dirname "$trilink_bin"):$PATH" python3 - "$here" "$work/certs/ca.pem" "$hub_client" \
    "${leaf_ports[0]}" "${leaf_ports[1]}" <<'EOF'
import os, pathlib, re, subprocess, sys, yaml
here, ca, hub, leaf_jp, leaf_kr = pathlib.Path(sys.argv[1]), *sys.argv[2:]
hosts = {"hub:4222": f"localhost:{hub}", "trilink-nats-hub:4222": f"localhost:{hub}",
         "leaf-jp:4222": f"127.0.0.1:{leaf_jp}", "leaf-kr:4222": f"127.0.0.1:{leaf_kr}"}
def move(a, site=None):
    a = a.replace("/etc/trilink/certs/ca.pem", ca)
    if site and a == "nats://127.0.0.1:4222":  # a site pod's leaf on the pod's loopback
        return f"nats://127.0.0.1:{leaf_jp if site == 'jp' else leaf_kr}"
    for h, to in hosts.items():
        a = a.replace("nats://" + h, "nats://" + to)
    return a
runs = []  # (name, argv, env)
compose = yaml.safe_load((here / "compose.yaml").read_text())
for name, svc in compose["services"].items():
    if not name.startswith("streams-"):
        continue
    argv = [a.replace("$$", "$") for a in svc["entrypoint"] + svc["command"]]
    env = {}
    for k, v in svc.get("environment", {}).items():
        m = re.fullmatch(r"\$\{([A-Z_]+)(:\?.*)?\}", v)
        env[k] = os.environ[m.group(1)] if m else v
    runs.append((f"compose {name}", [move(a) for a in argv], env))
for f in sorted((here / "k8s").glob("*.yaml")):
    for d in yaml.safe_load_all(f.read_text()):
        if not d or d["kind"] not in ("Job", "StatefulSet", "Deployment"):
            continue
        pod = d["spec"]["template"]["spec"]
        for c in pod["containers"] + pod.get("initContainers", []):
            args = c.get("args", [])
            cmd = [a.replace("$$", "$") for a in c.get("command", ["trilink"])]
            if "streams" not in args and not any("broker streams" in a for a in cmd):
                continue
            site = args[args.index("--site") + 1] if "--site" in args else None
            env = {e["name"]: os.environ[e["valueFrom"]["secretKeyRef"]["key"]]
                   for e in c.get("env", []) if "valueFrom" in e}
            runs.append((f"k8s {f.name}/{c['name']}", [move(a, site) for a in cmd + args], env))
bad = 0
for name, argv, env in runs:
    full = {k: v for k, v in os.environ.items() if not k.startswith("TRILINK_")}
    full.update(env)
    r = subprocess.run(argv, env=full, capture_output=True, text=True, timeout=120)
    ok = r.returncode == 0 and "streams ready" in r.stdout
    bad += 0 if ok else 1
    print(("ok   " if ok else "FAIL ") + f"live: {name}: {(r.stdout + r.stderr).strip()[:160]}")
for kind in ("compose", "k8s"):
    got = sum(1 for name, _, _ in runs if name.startswith(kind))
    if got != 5:  # the hub's three accounts and the two leaves
        bad += 1
        print(f"FAIL live: {got} {kind} stream initialisations found, want 5")
sys.exit(1 if bad else 0)
EOF
then
  ok "live: compose and Kubernetes stream initialisation creates every site's streams"
else
  fail "live: compose or Kubernetes stream initialisation"
fi
# A leaf whose hub URL name is not in the hub certificate must not link.
c=$(free_port) m=$(free_port)
localize leaf-jp "$work/certs-wrong" "$c" "$m" | sed "s#$work/data/nats-leaf-jp#$work/data/wrong#" \
  >"$work/live/leaf-wrong.conf"
wrong_mon=$(free_port) wrong_leaf=$(free_port) wrong_client=$(free_port)
localize hub "$work/certs-wrong" "$wrong_client" "$wrong_mon" \
  | sed -e "s#127.0.0.1:$hub_leaf#127.0.0.1:$wrong_leaf#" -e "s#$work/data/nats-hub#$work/data/wrong-hub#" \
  >"$work/live/hub-wrong.conf"
"$nats_bin" -c "$work/live/hub-wrong.conf" -l "$work/live/hub-wrong.log" &
pids+=($!)
HUB_LEAF_URLS="[\"tls://localhost:$wrong_leaf\"]" \
  "$nats_bin" -c "$work/live/leaf-wrong.conf" -l "$work/live/leaf-wrong.log" &
pids+=($!)
sleep 4
accounts=$(leafz "$wrong_mon")
if [ -z "$accounts" ] && grep -q "certificate" "$work/live/leaf-wrong.log"; then
  ok "live: hub certificate without the URL's name refused ($(grep -o 'certificate[^"]*' "$work/live/leaf-wrong.log" | head -1))"
else
  fail "live: leaf linked to a hub whose certificate lacks its name (accounts '$accounts')"
fi

# ------------------------------------------------------------------ 4. systemd units
if command -v systemd-analyze >/dev/null; then
  mkdir -p "$work/units"
  for u in "$here"/systemd/*.service; do
    sed -e "s#/usr/bin/trilink#$trilink_bin#g" -e "s#/usr/sbin/nats-server#$nats_bin#g" "$u" \
      >"$work/units/$(basename "$u")"
  done
  out=$(cd "$work/units" && SYSTEMD_UNIT_PATH="$work/units:" systemd-analyze verify --man=no \
    trilink-nats-hub.service trilink-relay.service trilink-nats-leaf@jp.service \
    trilink-nats-leaf@kr.service trilink-adapter@jp.service trilink-adapter@kr.service \
    trilink-adapter@us.service trilink-leafwatch.service 2>&1)
  if [ -z "$out" ]; then
    ok "systemd-analyze verify: 8 units, no findings"
  else
    fail "systemd-analyze verify:"
    echo "$out"
  fi
else
  fail "systemd-analyze not available: units not verified"
fi

# ------------------------------------------------------------------ 5./6. YAML, JSON, metric names
if python3 - "$here" "$root" <<'EOF'
import json, os, pathlib, re, sys, yaml
here, root = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
bad = 0
def report(ok, msg):
    global bad
    print(("ok   " if ok else "FAIL ") + msg)
    bad += 0 if ok else 1
files = [here / "compose.yaml", here / "prometheus" / "alerts.yaml", here / "prometheus" / "prometheus.yml"]
files += sorted((here / "k8s").glob("*.yaml"))
docs = 0
for f in files:
    try:
        n = sum(1 for d in yaml.safe_load_all(f.read_text()) if d is not None)
        docs += n
    except Exception as e:
        report(False, f"{f.relative_to(root)}: {e}")
report(bad == 0, f"YAML: {len(files)} files, {docs} documents parse")
for f in sorted((here / "k8s").glob("*.yaml")):
    for d in yaml.safe_load_all(f.read_text()):
        if d is None:
            continue
        missing = [k for k in ("apiVersion", "kind", "metadata") if k not in d]
        if missing:
            report(False, f"{f.name}: a document lacks {missing}")
# Kubernetes: selectors, probe ports, volume names, and ConfigMaps/Secrets that config.sh creates
config_sh = (here / "k8s" / "config.sh").read_text()
created = set(re.findall(r"create (?:configmap|secret generic) \"?([a-z0-9$-]+)", config_sh))
created = {c.replace("$role", n) for c in created for n in ("jp", "kr")}
workloads, services = [], []
for f in sorted((here / "k8s").glob("*.yaml")):
    for d in yaml.safe_load_all(f.read_text()):
        if not d:
            continue
        if d["kind"] in ("Deployment", "StatefulSet", "Job"):
            workloads.append((f.name, d))
        elif d["kind"] == "Service":
            services.append((f.name, d))
k8s_bad = []
for fname, d in workloads:
    spec = d["spec"]
    labels = spec["template"]["metadata"]["labels"]
    if "selector" in spec and not set(spec["selector"]["matchLabels"].items()) <= set(labels.items()):
        k8s_bad.append(f"{fname}: selector does not match template labels")
    pod = spec["template"]["spec"]
    vols = {v["name"] for v in pod.get("volumes", [])}
    vols |= {v["metadata"]["name"] for v in spec.get("volumeClaimTemplates", [])}
    for v in pod.get("volumes", []):
        ref = (v.get("configMap") or {}).get("name") or (v.get("secret") or {}).get("secretName")
        if ref and ref not in created:
            k8s_bad.append(f"{fname}: volume {v['name']} uses {ref}, which config.sh does not create")
    for c in pod["containers"] + pod.get("initContainers", []):
        ports = {p["name"] for p in c.get("ports", [])}
        for m in c.get("volumeMounts", []):
            if m["name"] not in vols:
                k8s_bad.append(f"{fname}/{c['name']}: mount {m['name']} has no volume")
        for probe in ("readinessProbe", "livenessProbe"):
            pr = c.get(probe) or {}
            port = (pr.get("httpGet") or pr.get("tcpSocket") or {}).get("port")
            if isinstance(port, str) and port not in ports:
                k8s_bad.append(f"{fname}/{c['name']}: {probe} port {port} not declared")
        for e in c.get("env", []):
            ref = ((e.get("valueFrom") or {}).get("secretKeyRef") or {}).get("name")
            if ref and ref not in created:
                k8s_bad.append(f"{fname}/{c['name']}: env {e['name']} uses secret {ref}, not created by config.sh")
        for e in c.get("envFrom", []):
            ref = (e.get("secretRef") or {}).get("name")
            if ref and ref not in created:
                k8s_bad.append(f"{fname}/{c['name']}: envFrom secret {ref} not created by config.sh")
for fname, d in services:
    sel = set(d["spec"]["selector"].items())
    targets = [w for _, w in workloads if sel <= set(w["spec"]["template"]["metadata"]["labels"].items())]
    if not targets:
        k8s_bad.append(f"{fname}: service {d['metadata']['name']} selects no workload")
        continue
    names = {p["name"] for w in targets for c in w["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])}
    for p in d["spec"]["ports"]:
        if isinstance(p.get("targetPort"), str) and p["targetPort"] not in names:
            k8s_bad.append(f"{fname}: service port {p['name']} targets undeclared {p['targetPort']}")
report(not k8s_bad, f"kubernetes: {len(workloads)} workloads, {len(services)} services consistent {k8s_bad}")
compose = yaml.safe_load((here / "compose.yaml").read_text())
need = {"hub", "leaf-jp", "leaf-kr", "relay", "adapter-jp", "adapter-kr", "adapter-us", "mosquitto"}
report(need <= set(compose["services"]), f"compose services: {sorted(compose['services'])}")
spec = os.environ.get("COMPOSE_SPEC")  # compose_spec.json, e.g. from the docker-compose 1.29.2 wheel
if spec:
    import jsonschema
    errs = list(jsonschema.Draft7Validator(json.load(open(spec))).iter_errors(compose))
    report(not errs, f"compose.yaml valid against {spec}: {[e.message for e in errs]}")
else:
    print("note COMPOSE_SPEC not set: compose.yaml not validated against the compose JSON schema")
# every bind-mounted host path exists (certs/ is made by make-certs.sh)
for name, svc in compose["services"].items():
    for v in svc.get("volumes", []) if isinstance(svc, dict) else []:
        src = v.split(":")[0]
        if src.startswith(".") and not src.startswith("./certs/"):
            report((here / src).exists(), f"compose {name}: mount source {src} exists")
dash = json.loads((here / "grafana" / "trilink.json").read_text())
panels = [p for p in dash["panels"] if p.get("type") != "row"]
report(len(panels) > 0, f"grafana: {len(panels)} panels")
used = set()
for p in panels:
    for t in p.get("targets", []):
        used |= set(re.findall(r"\btrilink_[a-z_]+", t["expr"]))
alerts = yaml.safe_load((here / "prometheus" / "alerts.yaml").read_text())
rules = [r for g in alerts["groups"] for r in g["rules"]]
for r in rules:
    used |= set(re.findall(r"\btrilink_[a-z_]+", r["expr"]))
    desc = r.get("annotations", {}).get("description", "")
    report(len(desc) > 40 and "summary" in r.get("annotations", {}), f"alert {r['alert']}: summary + description")
code = "".join(p.read_text() for p in (root / "adapters").glob("**/src/**/*.rs"))
defined = set(re.findall(r'"(trilink_[a-z_]+)"', code))
def base(m):
    for suf in ("_bucket", "_sum", "_count"):
        if m.endswith(suf) and m[: -len(suf)] in defined:
            return m[: -len(suf)]
    return m
unknown = sorted(m for m in used if base(m) not in defined)
report(not unknown, f"metric names: {len(used)} used by dashboard/alerts, unknown to the code: {unknown}")
sys.exit(1 if bad else 0)
EOF
then :; else failures=$((failures + 1)); fi

# ------------------------------------------------------------------ 7. trilink configs
if [ -x "$trilink_bin" ]; then
  # --check also reads the files a config names (certificates, state directory): stand in for
  # the target host's /etc/trilink/certs/ca.pem and /var/lib/trilink with test copies.
  test_ca="$root/adapters/runtime/tests/data/certs/valid-ca.pem"
  for n in jp kr us; do
    ca_override=""
    grep -q '^tls_ca' "$here/etc/trilink/adapter-$n.toml" && ca_override="TRILINK__NATS__TLS_CA=$test_ca"
    # the environment file's TRILINK__* lines, as systemd passes them
    if out=$(env $(grep -h '^TRILINK__' "$here/etc/default/trilink-adapter-$n") $ca_override \
      TRILINK__EGRESS__STATE_DIR="$work/state-$n" \
      "$trilink_bin" adapter --check --config "$here/etc/trilink/adapter-$n.toml" 2>&1); then
      ok "trilink adapter --check adapter-$n.toml (+ /etc/default/trilink-adapter-$n)"
    else
      fail "trilink adapter --check adapter-$n.toml: $out"
    fi
  done
  if out=$("$trilink_bin" adapter --check --config "$here/etc/trilink/adapter-jp.toml" 2>&1); then
    fail "adapter-jp.toml accepted without its password (environment file)"
  else
    ok "adapter-jp.toml refused without TRILINK__NATS__PASSWORD ($out)"
  fi
  if out=$(TRILINK__TLS_CA="$test_ca" "$trilink_bin" relay --check --config "$here/etc/trilink/relay.toml" \
    --policy "$root/broker-config/policies/default-trilateral.toml" 2>&1); then
    ok "trilink relay --check relay.toml + default-trilateral.toml"
  else
    fail "trilink relay --check: $out"
  fi
else
  fail "no trilink binary at $trilink_bin (cargo build -p trilink): configs not checked"
fi

# ------------------------------------------------------------------ 8. live: the example configs carry traffic
# The development brokers (`trilink broker up`: hub + leaves + streams, dev certificates) stand in
# for the production servers, because no command creates the streams on those (README, "Streams").
# The relay and the JP and US adapters run with the files from deploy/etc/trilink, changed only by
# what an operator changes: URLs/passwords (environment overrides; sed for the relay, as in
# compose.yaml), the national addresses, moved to free loopback ports, and the adapters'
# egress.state_dir, moved from /var/lib/trilink into the work directory.
if [ -x "$trilink_bin" ] && [ "${SKIP_LIVE_LINK:-0}" != 1 ]; then
  link="$work/link"
  "$trilink_bin" broker up --dir "$link" >"$work/broker-up.log" 2>&1 &
  broker_pid=$!
  pids+=("$broker_pid")
  for _ in $(seq 1 120); do
    grep -q '^ready' "$work/broker-up.log" 2>/dev/null && break
    kill -0 "$broker_pid" 2>/dev/null || break
    sleep 0.5
  done
  if grep -q '^ready' "$work/broker-up.log"; then
    eval "$(python3 - "$link/link.json" <<'EOF2'
import json, sys
d = json.load(open(sys.argv[1]))
r = d["roles"]
print(f'hub_url={d["hub"][0]} jp_url={r["adapter-jp"]["urls"][0]} jp_pw={r["adapter-jp"]["password"]}')
print(f'us_url={r["adapter-us"]["urls"][0]} us_pw={r["adapter-us"]["password"]}')
for n in ("jp", "kr", "us"):
    print(f'relay_{n}_pw={r["relay-" + n]["password"]}')
EOF2
)"
    sed -e "s|nats://127.0.0.1:4222|$hub_url|" -e "s|REPLACE-with-PASS_RELAY_JP|$relay_jp_pw|" \
      -e "s|REPLACE-with-PASS_RELAY_KR|$relay_kr_pw|" -e "s|REPLACE-with-PASS_RELAY_US|$relay_us_pw|" \
      -e "s|/etc/trilink/certs/ca.pem|$link/certs/ca.pem|" \
      "$here/etc/trilink/relay.toml" >"$work/relay.toml"
    jp_in=$(free_port) jp_out=$(free_port) jp_tel=$(free_port)
    us_tcp=$(free_port) us_udp=$(free_port) us_out=$(free_port) us_tel=$(free_port)
    kr_mqtt=$(free_port) kr_tel=$(free_port)
    eval "$(python3 - "$link/link.json" <<'EOF2'
import json, sys
r = json.load(open(sys.argv[1]))["roles"]["adapter-kr"]
print(f'kr_url={r["urls"][0]} kr_pw={r["password"]}')
EOF2
)"
    # the KR national broker (mosquitto, as in compose.yaml: no password file)
    printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$kr_mqtt" >"$work/mosquitto.conf"
    ${MOSQUITTO_BIN:-/usr/sbin/mosquitto} -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 &
    pids+=($!)
    # the US national system: accept the adapter's connection, report the bytes it receives
    python3 -u - "$us_out" >"$work/us-system.log" 2>&1 <<'EOF2' &
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(1)
s.settimeout(60)
c, _ = s.accept()
c.settimeout(60)
total = 0
while True:
    d = c.recv(65536)
    if not d:
        break
    total += len(d)
    print(f"received {total}")
EOF2
    pids+=($!)
    "$trilink_bin" relay --config "$work/relay.toml" \
      --policy "$root/broker-config/policies/default-trilateral.toml" >"$work/relay.log" 2>&1 &
    pids+=($!)
    TRILINK__NATS__URL=$jp_url TRILINK__NATS__PASSWORD=$jp_pw \
      TRILINK__INGRESS__0__BIND=127.0.0.1:$jp_in TRILINK__EGRESS__OUTPUTS__0__TARGET=127.0.0.1:$jp_out \
      TRILINK__EGRESS__STATE_DIR=$work/state/adapter-jp \
      TRILINK__TELEMETRY__LISTEN=127.0.0.1:$jp_tel \
      "$trilink_bin" adapter --config "$here/etc/trilink/adapter-jp.toml" >"$work/adapter-jp.log" 2>&1 &
    pids+=($!)
    TRILINK__NATS__URL=$us_url TRILINK__NATS__PASSWORD=$us_pw TRILINK__NATS__TLS_CA=$link/certs/ca.pem \
      TRILINK__INGRESS__0__BIND=127.0.0.1:$us_tcp TRILINK__INGRESS__1__BIND=127.0.0.1:$us_udp \
      TRILINK__EGRESS__OUTPUTS__0__CONNECT=127.0.0.1:$us_out TRILINK__TELEMETRY__LISTEN=127.0.0.1:$us_tel \
      TRILINK__EGRESS__STATE_DIR=$work/state/adapter-us \
      "$trilink_bin" adapter --config "$here/etc/trilink/adapter-us.toml" >"$work/adapter-us.log" 2>&1 &
    pids+=($!)
    TRILINK__NATS__URL=$kr_url TRILINK__NATS__PASSWORD=$kr_pw \
      TRILINK__INGRESS__0__HOST=127.0.0.1 TRILINK__INGRESS__0__PORT=$kr_mqtt \
      TRILINK__EGRESS__OUTPUTS__0__HOST=127.0.0.1 TRILINK__EGRESS__OUTPUTS__0__PORT=$kr_mqtt \
      TRILINK__EGRESS__STATE_DIR=$work/state/adapter-kr \
      TRILINK__INGRESS__0__PASSWORD=not-checked TRILINK__EGRESS__OUTPUTS__0__PASSWORD=not-checked \
      TRILINK__TELEMETRY__LISTEN=127.0.0.1:$kr_tel \
      "$trilink_bin" adapter --config "$here/etc/trilink/adapter-kr.toml" >"$work/adapter-kr.log" 2>&1 &
    pids+=($!)
    ready() { python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$1/readyz', timeout=1)" 2>/dev/null; }
    for _ in $(seq 1 60); do ready "$jp_tel" && ready "$us_tel" && ready "$kr_tel" && break; sleep 0.5; done
    # one JP launch detection (test vector), as the JP national system would send it, with its
    # times of day moved to now (a JP time of day resolves within 12 h of receipt, so the
    # vector's fixed 10:02 JST would be "in the future" half of every day) and its CRC redone
    python3 - "$root/schemas/vectors/jp/launch_detection.hex" "$jp_in" <<'EOF2'
import re, socket, sys, time
hexed = "".join(line.split("#")[0] for line in open(sys.argv[1]))
frame = bytearray(bytes.fromhex(re.sub(r"\s", "", hexed)))
day = 86_400_000_000
now_tod = (time.time_ns() // 1000 + 32_400_000_000) % day   # JST time of day, µs
frame[0x0E:0x16] = now_tod.to_bytes(8, "big")                     # observed_tod
frame[0x41:0x49] = ((now_tod - 33_000_000) % day).to_bytes(8, "big")  # launch_tod
crc = 0xFFFF                                                      # CRC-16/IBM-3740
for b in frame[:-2]:
    crc ^= b << 8
    for _ in range(8):
        crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
frame[-2:] = crc.to_bytes(2, "big")
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(bytes(frame), ("127.0.0.1", int(sys.argv[2])))
EOF2
    metric() { # port name-and-labels-regex
      python3 - "$1" "$2" <<'EOF2'
import re, sys, urllib.request
text = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics", timeout=2).read().decode()
print(sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines() if re.match(sys.argv[2], l)))
EOF2
    }
    # What each adapter delivers: the launch detection itself and the hub's common-picture
    # views of the event it starts (the relay's picture is on by default) — at least 1.
    at_least_one() { # port
      local n=0
      for _ in $(seq 1 40); do
        n=$(metric "$1" 'trilink_delivered_total\{' 2>/dev/null || echo 0)
        python3 -c "import sys; sys.exit(0 if float('$n') >= 1 else 1)" && break
        sleep 0.5
      done
      echo "$n"
    }
    delivered=$(at_least_one "$us_tel")
    kr_delivered=$(at_least_one "$kr_tel")
    if python3 -c "import sys; sys.exit(0 if float('$kr_delivered') >= 1 else 1)"; then
      ok "live link: adapter-kr delivered the frame to the KR MQTT broker (PUBACKed; $kr_delivered deliveries with the common-picture views)"
    else
      fail "live link: adapter-kr delivered $kr_delivered (want the launch detection)"
      tail -n 5 "$work/adapter-kr.log" "$work/mosquitto.log"
    fi
    published=$(metric "$jp_tel" 'trilink_published_total\{.*kind="launch_detection"' 2>/dev/null || echo 0)
    sleep 1
    if [ "$published" = "1.0" ] && python3 -c "import sys; sys.exit(0 if float('$delivered') >= 1 else 1)" \
        && grep -q '^received' "$work/us-system.log"; then
      ok "live link: JP frame -> adapter-jp ($published published) -> relay -> adapter-us ($delivered delivered, with the common-picture views) -> US system ($(grep '^received' "$work/us-system.log" | tail -1) bytes)"
    else
      fail "live link: published=$published delivered=$delivered, US system: $(tail -1 "$work/us-system.log" 2>/dev/null)"
      tail -n 5 "$work/adapter-jp.log" "$work/adapter-us.log" "$work/relay.log"
    fi
  else
    fail "live link: trilink broker up did not become ready"
    tail -n 5 "$work/broker-up.log"
  fi
  "$trilink_bin" broker down --dir "$link" >/dev/null 2>&1
fi

echo
if [ "$failures" -eq 0 ]; then
  echo "deploy/check.sh: all checks passed"
  exit 0
fi
echo "deploy/check.sh: $failures check(s) failed"
exit 1

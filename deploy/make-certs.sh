#!/bin/sh
# Certificates for a trilink deployment whose hub has real DNS names (the development script
# the development certificates (trilink_brokers::certs, rcgen) only cover localhost/127.0.0.1 and is valid for 30 days).
#
#   deploy/make-certs.sh <outdir> <hub-name> [<hub-name> ...]
#
#   <hub-name>   a DNS name or IPv4 address the leaves use to reach the hub's leafnode port
#                (hub.example, hub-1.example, 10.9.0.4). Every name goes into the hub
#                certificate's subjectAltName; the leaves verify it against their hub URL.
#
# Writes into <outdir> (private keys mode 0600):
#   ca.pem ca-key.pem            the link CA — created only when missing, so re-running the script
#                                re-issues (rotates) the other certificates under the same CA
#   hub.pem hub-key.pem          hub server certificate (client and leafnode listeners)
#   route-ca.pem route-ca-key.pem  the ROUTE CA — signs nothing but hub route certificates, so no
#                                leaf or client certificate can ever be a route (created when missing)
#   route.pem route-key.pem      hub route certificate (routes between hub cluster nodes; serverAuth+
#                                clientAuth, same subjectAltName as hub.pem)
#   leaf-jp.pem leaf-jp-key.pem  subject CN=leaf-jp,O=trilink -> the hub maps it to account JP
#   leaf-kr.pem leaf-kr-key.pem  subject CN=leaf-kr,O=trilink -> the hub maps it to account KR
#
# The subjects must stay exactly as above: the hub's `leafnodes.authorization` maps the
# certificate subject to the nation's account (verify_and_map). Validity: CA 5 years, others
# DAYS (default 365). For a real link use your organisation's PKI or an offline CA, and keep
# ca-key.pem off every server (see deploy/README.md, "Certificates").
set -eu
out=${1:?usage: make-certs.sh <outdir> <hub-name> [<hub-name> ...]}
shift
[ "$#" -ge 1 ] || { echo "usage: make-certs.sh <outdir> <hub-name> [<hub-name> ...]" >&2; exit 2; }
days=${DAYS:-365}
umask 077
mkdir -p "$out"
cd "$out"

san=""
for name in "$@"; do
  case "$name" in
    *[!0-9.]*) entry="DNS:$name" ;;
    *) entry="IP:$name" ;;
  esac
  san="${san:+$san,}$entry"
done

new_ca() { # name subject
  if [ ! -f "$1.pem" ] || [ ! -f "$1-key.pem" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1825 \
      -keyout "$1-key.pem" -out "$1.pem" -subj "$2" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      2>/dev/null
    echo "new CA: $out/$1.pem"
  else
    echo "reusing CA: $out/$1.pem"
  fi
}
new_ca ca "/O=trilink/CN=trilink link CA"
new_ca route-ca "/O=trilink/CN=trilink hub route CA"

issue() { # name subject extensions [ca]
  ca=${4:-ca}
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$1-key.pem.new" -out "$1.csr" -subj "$2" 2>/dev/null
  printf '%s\n' "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$ca.pem" -CAkey "$ca-key.pem" -CAcreateserial \
    -days "$days" -out "$1.pem.new" -extfile "$1.ext" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
  mv "$1-key.pem.new" "$1-key.pem"
  mv "$1.pem.new" "$1.pem"
  chmod 600 "$1-key.pem"
  chmod 644 "$1.pem"
  echo "issued $1.pem ($(openssl x509 -in "$1.pem" -noout -enddate))"
}

issue hub "/O=trilink/CN=hub" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=$san"
issue route "/O=trilink/CN=hub-route" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=$san" route-ca
client_ext='basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth'
issue leaf-jp "/O=trilink/CN=leaf-jp" "$client_ext"
issue leaf-kr "/O=trilink/CN=leaf-kr" "$client_ext"
rm -f ca.srl route-ca.srl
chmod 644 ca.pem route-ca.pem
echo "certificates in $out; hub subjectAltName: $san"

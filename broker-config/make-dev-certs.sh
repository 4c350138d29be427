#!/bin/sh
# Development certificates for the trilink broker topology. NOT for production (see README.md).
#
#   make-dev-certs.sh <outdir>
#
# Writes into <outdir>:
#   ca.pem ca-key.pem                  dev CA ("trilink dev CA")
#   hub.pem hub-key.pem                hub server cert (localhost, 127.0.0.1), serverAuth+clientAuth
#                                      (client and leafnode listeners)
#   route-ca.pem route-ca-key.pem      route-only CA: signs nothing but hub route certificates
#   route.pem route-key.pem            hub route cert (routes between hub cluster nodes)
#   leaf-jp.pem leaf-jp-key.pem        leaf client cert, subject "CN=leaf-jp,O=trilink" -> account JP
#   leaf-kr.pem leaf-kr-key.pem        leaf client cert, subject "CN=leaf-kr,O=trilink" -> account KR
#   leaf-xx.pem leaf-xx-key.pem        negative case: valid CA, but a nation the hub does not know
#   rogue-ca.pem rogue-ca-key.pem      negative case: another CA
#   rogue-leaf-jp.pem rogue-leaf-jp-key.pem   negative case: "CN=leaf-jp,O=trilink" signed by the rogue CA
set -eu
out=${1:?usage: make-dev-certs.sh <outdir>}
mkdir -p "$out"
cd "$out"
days=30

ca() { # name subject
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days "$days" \
    -keyout "$1-key.pem" -out "$1.pem" -subj "$2" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>/dev/null
}

leaf() { # name subject ca extfile-contents
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$1-key.pem" -out "$1.csr" -subj "$2" 2>/dev/null
  printf '%s\n' "$4" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3-key.pem" -CAcreateserial \
    -days "$days" -out "$1.pem" -extfile "$1.ext" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

server_ext='basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=DNS:localhost,IP:127.0.0.1'
client_ext='basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth'

ca ca "/O=trilink/CN=trilink dev CA"
ca rogue-ca "/O=rogue/CN=rogue CA"
ca route-ca "/O=trilink/CN=trilink dev route CA"
leaf hub "/O=trilink/CN=hub" ca "$server_ext"
leaf route "/O=trilink/CN=hub-route" route-ca "$server_ext"
leaf leaf-jp "/O=trilink/CN=leaf-jp" ca "$client_ext"
leaf leaf-kr "/O=trilink/CN=leaf-kr" ca "$client_ext"
leaf leaf-xx "/O=trilink/CN=leaf-xx" ca "$client_ext"
leaf rogue-leaf-jp "/O=trilink/CN=leaf-jp" rogue-ca "$client_ext"
rm -f ./*.srl
chmod 600 ./*-key.pem
echo "dev certificates written to $out"

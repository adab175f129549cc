#!/bin/sh
# Generate the TLS material for the wss tests into DIR (default build/tls):
#   ca.pem / ca.key            a test CA
#   server.pem / server.key    a server certificate for localhost and 127.0.0.1 (subjectAltName), signed by the CA
#   other-ca.pem / other-ca.key  an unrelated CA (the server certificate does not chain to it)
#   client.pem / client.key    a client certificate (clientAuth), signed by the CA
#   server.pin / other-ca.pin  "sha256/<base64>" pins of those public keys (the pinnedPublicKeys option)
#   ca.pin / inter.pin         pins of the CA (a trust anchor the server never presents) and of the intermediate
#   chain-server.key           a leaf for localhost signed by an intermediate CA (itself signed by ca.pem):
#   chain-server.pem             presented as leaf + intermediate
#   chain-evil.pem               presented as leaf + intermediate + other-ca.pem appended (its key is not in
#                                the verified chain: pinning other-ca.pin must refuse it, CVE-2016-2402)
# Idempotent: does nothing when the set is complete (complete.stamp is written last). Needs openssl.
set -eu
DIR=${1:-build/tls}
[ -f "$DIR/complete.stamp" ] && exit 0
mkdir -p "$DIR"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/rt-tls.XXXXXX")
trap 'rm -rf "$TMP"' EXIT INT TERM

openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
    -subj "/CN=realtime test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$TMP/ca.key" -out "$TMP/ca.pem" 2>/dev/null

openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
    -subj "/CN=realtime other CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$TMP/other-ca.key" -out "$TMP/other-ca.pem" 2>/dev/null

openssl req -new -newkey rsa:2048 -nodes -sha256 -subj "/CN=localhost" \
    -keyout "$TMP/server.key" -out "$TMP/server.csr" 2>/dev/null
cat > "$TMP/server.ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1
EXT
openssl x509 -req -sha256 -days 3650 -in "$TMP/server.csr" -CA "$TMP/ca.pem" -CAkey "$TMP/ca.key" \
    -CAcreateserial -extfile "$TMP/server.ext" -out "$TMP/server.pem" 2>/dev/null

openssl req -new -newkey rsa:2048 -nodes -sha256 -subj "/CN=realtime test client" \
    -keyout "$TMP/client.key" -out "$TMP/client.csr" 2>/dev/null
cat > "$TMP/client.ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
EXT
openssl x509 -req -sha256 -days 3650 -in "$TMP/client.csr" -CA "$TMP/ca.pem" -CAkey "$TMP/ca.key" \
    -CAcreateserial -extfile "$TMP/client.ext" -out "$TMP/client.pem" 2>/dev/null

openssl req -new -newkey rsa:2048 -nodes -sha256 -subj "/CN=realtime test intermediate CA" \
    -keyout "$TMP/inter.key" -out "$TMP/inter.csr" 2>/dev/null
cat > "$TMP/inter.ext" <<EXT
basicConstraints=critical,CA:TRUE,pathlen:0
keyUsage=critical,keyCertSign,cRLSign
EXT
openssl x509 -req -sha256 -days 3650 -in "$TMP/inter.csr" -CA "$TMP/ca.pem" -CAkey "$TMP/ca.key" \
    -CAcreateserial -extfile "$TMP/inter.ext" -out "$TMP/inter.pem" 2>/dev/null
openssl req -new -newkey rsa:2048 -nodes -sha256 -subj "/CN=localhost" \
    -keyout "$TMP/chain-server.key" -out "$TMP/chain-server.csr" 2>/dev/null
openssl x509 -req -sha256 -days 3650 -in "$TMP/chain-server.csr" -CA "$TMP/inter.pem" -CAkey "$TMP/inter.key" \
    -CAcreateserial -extfile "$TMP/server.ext" -out "$TMP/chain-leaf.pem" 2>/dev/null
cat "$TMP/chain-leaf.pem" "$TMP/inter.pem" > "$TMP/chain-server.pem"
cat "$TMP/chain-leaf.pem" "$TMP/inter.pem" "$TMP/other-ca.pem" > "$TMP/chain-evil.pem"

pin() { printf 'sha256/%s\n' "$(openssl x509 -in "$1" -pubkey -noout | openssl pkey -pubin -outform der |
    openssl dgst -sha256 -binary | base64)"; }
pin "$TMP/server.pem" > "$TMP/server.pin"
pin "$TMP/other-ca.pem" > "$TMP/other-ca.pin"
pin "$TMP/ca.pem" > "$TMP/ca.pin"
pin "$TMP/inter.pem" > "$TMP/inter.pin"

for f in ca.pem ca.key other-ca.pem other-ca.key server.pem server.key server.pin other-ca.pin client.pem client.key \
    ca.pin inter.pin chain-server.pem chain-server.key chain-evil.pem; do
    cp "$TMP/$f" "$DIR/$f"
done
touch "$DIR/complete.stamp"   # last: its presence marks a complete set
echo "generated test certificates in $DIR"

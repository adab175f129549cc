#!/bin/sh
# Generate the TLS material for the wss tests into DIR (default build/tls):
#   ca.pem / ca.key            a test CA
#   server.pem / server.key    a server certificate for localhost and 127.0.0.1 (subjectAltName), signed by the CA
#   other-ca.pem / other-ca.key  an unrelated CA (the server certificate does not chain to it)
# Idempotent: does nothing when DIR/server.key already exists. Needs openssl.
set -eu
DIR=${1:-build/tls}
[ -f "$DIR/server.key" ] && [ -f "$DIR/other-ca.pem" ] && exit 0
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

for f in ca.pem ca.key other-ca.pem other-ca.key server.pem; do cp "$TMP/$f" "$DIR/$f"; done
cp "$TMP/server.key" "$DIR/server.key"   # last: its presence marks a complete set
echo "generated test certificates in $DIR"

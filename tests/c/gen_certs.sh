#!/bin/sh
# Generate the TLS material for the wss tests into DIR (default build/tls):
#   ca.pem / ca.key            a test CA
#   server.pem / server.key    a server certificate for localhost and 127.0.0.1 (subjectAltName), signed by the CA
#   other-ca.pem / other-ca.key  an unrelated CA (the server certificate does not chain to it)
#   client.pem / client.key    a client certificate (clientAuth), signed by the CA
#   server.pin / other-ca.pin  "sha256/<base64>" pins of those public keys (the pinnedPublicKeys option)
# Idempotent: does nothing when the set is complete (client.key is written last). Needs openssl.
set -eu
DIR=${1:-build/tls}
[ -f "$DIR/client.key" ] && exit 0
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

pin() { printf 'sha256/%s\n' "$(openssl x509 -in "$1" -pubkey -noout | openssl pkey -pubin -outform der |
    openssl dgst -sha256 -binary | base64)"; }
pin "$TMP/server.pem" > "$TMP/server.pin"
pin "$TMP/other-ca.pem" > "$TMP/other-ca.pin"

for f in ca.pem ca.key other-ca.pem other-ca.key server.pem server.key server.pin other-ca.pin client.pem; do
    cp "$TMP/$f" "$DIR/$f"
done
cp "$TMP/client.key" "$DIR/client.key"   # last: its presence marks a complete set
echo "generated test certificates in $DIR"

#!/usr/bin/env bash
# Certificates of the Kafka broker's external listener (SASL_SSL on port 9094) in
# docker-compose.yml: a private CA, and a broker certificate it signs. Nothing here is
# committed: everything goes under .data/ (ignored by git).
#
#   .data/kafka-ca/ca.key                 the CA's key (kept out of every container)
#   .data/kafka-secrets/ca.pem            the CA's certificate: what upstream systems trust
#                                         (KAFKA_SSL_CAFILE, or ssl.truststore.* of a Java client)
#   .data/kafka-secrets/kafka.keystore.pem  the broker's certificate chain and its private key
#                                         (PKCS#8, encrypted with KAFKA_SSL_KEY_PASSWORD)
#
# Usage: KAFKA_SSL_KEY_PASSWORD=... deploy/kafka/make-certs.sh [HOST_OR_IP ...]
#   The hosts are the names upstream systems connect to (default: localhost); the
#   certificate also names "kafka", the broker's name on the compose network. Run it again
#   to renew the broker's certificate (the CA is kept). With your organisation's CA, put
#   its chain and the broker's key into kafka.keystore.pem (same layout) and ca.pem instead.
set -euo pipefail
: "${KAFKA_SSL_KEY_PASSWORD:?set KAFKA_SSL_KEY_PASSWORD (the value in deploy/compose.env)}"
cd "$(dirname "$0")/../.."
out=${KAFKA_SECRETS_DIR:-.data/kafka-secrets}
ca_dir=${KAFKA_CA_DIR:-.data/kafka-ca}
days=${CERT_DAYS:-397}
if [ "$#" -eq 0 ]; then set -- localhost; fi

san="DNS:kafka"
for host in "$@"; do
  if [[ $host =~ ^[0-9.]+$ || $host == *:* ]]; then san+=",IP:$host"; else san+=",DNS:$host"; fi
done

umask 077
mkdir -p "$out" "$ca_dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ ! -f "$ca_dir/ca.key" ]; then
  openssl req -x509 -new -newkey rsa:3072 -nodes -sha256 -days 3650 \
    -subj "/CN=public-ledger Kafka CA" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$ca_dir/ca.key" -out "$ca_dir/ca.pem" 2>/dev/null
fi

openssl req -new -newkey rsa:2048 -nodes -subj "/CN=$1" \
  -keyout "$work/broker.key" -out "$work/broker.csr" 2>/dev/null
cat > "$work/extensions.cnf" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=$san
EXT
openssl x509 -req -sha256 -days "$days" -in "$work/broker.csr" \
  -CA "$ca_dir/ca.pem" -CAkey "$ca_dir/ca.key" -CAcreateserial -CAserial "$ca_dir/ca.srl" \
  -extfile "$work/extensions.cnf" -out "$work/broker.pem" 2>/dev/null
# Kafka reads a PEM key store's key as encrypted PKCS#8 (ssl.key.password). PBES1 with
# SHA-1 and 3DES: the scheme every Java of the apache/kafka images decrypts (Java 17 cannot
# decrypt PBES2/AES keys through EncryptedPrivateKeyInfo); the file's access is the guard.
openssl pkcs8 -topk8 -v1 PBE-SHA1-3DES -in "$work/broker.key" \
  -passout env:KAFKA_SSL_KEY_PASSWORD -out "$work/broker.p8"

cat "$work/broker.pem" "$ca_dir/ca.pem" "$work/broker.p8" > "$out/kafka.keystore.pem"
cp "$ca_dir/ca.pem" "$out/ca.pem"
# the broker runs as the image's user (appuser): it must read them; the key is encrypted
chmod 755 "$out"
chmod 644 "$out/kafka.keystore.pem" "$out/ca.pem"
echo "broker certificate for $san, valid $days days:"
echo "  $out/kafka.keystore.pem (mounted at /etc/kafka/secrets), $out/ca.pem (for clients)"

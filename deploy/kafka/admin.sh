#!/usr/bin/env bash
# Run a Kafka command-line tool of the apache/kafka image as the cluster's admin, over the
# internal listener of docker-compose.yml (SASL_PLAINTEXT, PLAIN):
#
#   bash /opt/ledger-kafka/admin.sh kafka-topics.sh --list
#
# ADMIN_PASSWORD: the admin's password (KAFKA_ADMIN_PASSWORD in deploy/compose.env);
# BOOTSTRAP_SERVER (default kafka:9092), ADMIN_USER (default admin).
set -euo pipefail
: "${ADMIN_PASSWORD:?ADMIN_PASSWORD: the password of the Kafka admin}"
config=$(mktemp)
trap 'rm -f "$config"' EXIT
cat > "$config" <<PROPERTIES
security.protocol=SASL_PLAINTEXT
sasl.mechanism=PLAIN
sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="${ADMIN_USER:-admin}" password="${ADMIN_PASSWORD}";
PROPERTIES
tool=$1
shift
/opt/kafka/bin/"$tool" --bootstrap-server "${BOOTSTRAP_SERVER:-kafka:9092}" \
  --command-config "$config" "$@"

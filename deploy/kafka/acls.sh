#!/usr/bin/env bash
# The Kafka ACLs of the cluster of docker-compose.yml, added by its one-shot kafka-acls
# service (as the admin, a super user). Adding an ACL that exists changes nothing, so it
# runs at every `docker compose up`. The cluster denies what no ACL allows
# (allow.everyone.if.no.acl.found=false). Topic names and group ids: the services' defaults,
# renamed by the same variables as in the services (TOPIC_*, LEDGER_GROUP_ID,
# PERFORMANCE_GROUP_ID). The README's "Kafka ACLs" lists the same commands.
set -euo pipefail
here=$(dirname "$0")

budget=${TOPIC_BUDGET_EVENTS:-budget.events}
procurement=${TOPIC_PROCUREMENT_EVENTS:-procurement.events}
cases=${TOPIC_CASE_EVENTS:-case.events}
evaluation=${TOPIC_EVALUATION_EVENTS:-evaluation.events}
journal=${TOPIC_LEDGER_JOURNAL:-ledger.journal}
rejected=${TOPIC_LEDGER_REJECTED:-ledger.rejected}
ledger_group=${LEDGER_GROUP_ID:-ledger}
performance_group=${PERFORMANCE_GROUP_ID:-performance}

acl() {
  bash "$here/admin.sh" kafka-acls.sh --add "$@"
}

# Upstream systems (external listener): each may write its own inbound topic, nothing else.
# WRITE on a topic also allows an idempotent producer (KIP-679, Kafka 2.8+).
acl --allow-principal User:budget --operation Write --operation Describe --topic "$budget"
acl --allow-principal User:procurement --operation Write --operation Describe --topic "$procurement"
acl --allow-principal User:cases --operation Write --operation Describe --topic "$cases"

# The ledger: consumes the inbound topics in its group, publishes the journal and the
# rejections, and reads their ends back (the relays' check that the broker kept them).
acl --allow-principal User:ledger --operation Read --operation Describe \
  --topic "$budget" --topic "$procurement" --topic "$cases" --topic "$evaluation"
acl --allow-principal User:ledger --operation Read --group "$ledger_group"
acl --allow-principal User:ledger --operation Write --operation Read --operation Describe \
  --topic "$journal" --topic "$rejected"

# Performance: consumes the journal in its group.
acl --allow-principal User:performance --operation Read --operation Describe --topic "$journal"
acl --allow-principal User:performance --operation Read --group "$performance_group"

# The operator: `ledger rejections resubmit` (and the demo publisher) write inbound records.
acl --allow-principal User:operator --operation Write --operation Describe \
  --topic "$budget" --topic "$procurement" --topic "$cases"

# The gateway (reporting): writes what evaluators write (its mutations), nothing else.
acl --allow-principal User:reporting --operation Write --operation Describe --topic "$evaluation"
bash "$here/admin.sh" kafka-acls.sh --list

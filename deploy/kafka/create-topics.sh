#!/bin/bash
# create-topics.sh — the topics of the compose demo, created once the broker answers (the
# kafka-init service of docker-compose.yml runs it in the apache/kafka image). Idempotent:
# --if-not-exists, so a restarted stack keeps its data.
#   alloc             the allocation log the producer streams (6 partitions, keyed by event_id)
#   ope-records       window records of `giftope consume` (keyed by policy)
#   ope-dead-letters  rejected and late lines (keyed by reason)
set -euo pipefail
bootstrap=${BOOTSTRAP:-kafka:9092}
bin=/opt/kafka/bin
for i in $(seq 1 60); do
  "$bin/kafka-broker-api-versions.sh" --bootstrap-server "$bootstrap" > /dev/null 2>&1 && break
  [ "$i" -lt 60 ] || { echo "create-topics.sh: no broker at $bootstrap after 120 s" >&2; exit 1; }
  sleep 2
done
create() {
  "$bin/kafka-topics.sh" --bootstrap-server "$bootstrap" --create --if-not-exists \
    --topic "$1" --partitions "$2" --replication-factor 1
}
create alloc 6
create ope-records 3
create ope-dead-letters 1
echo "create-topics.sh: topics ready on $bootstrap" >&2

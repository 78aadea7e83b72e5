#!/usr/bin/env bash
# Creates Parley's shared Kafka topics with their partition counts and retention. Idempotent
# (--if-not-exists): existing topics are left as they are, so a changed partition count needs
# `kafka-topics.sh --alter` by hand (docs/deploy.md says why that reorders keys).
# Runs in the apache/kafka image as compose's one-shot `kafka-topics` service; works anywhere
# kafka-topics.sh does:
#   PARLEY_KAFKA_BROKERS=127.0.0.1:9092 KAFKA_TOPICS=/path/to/kafka-topics.sh compose/create-topics.sh
# Per-edge chat.deliver.<edge-id> topics are not created here: each ws-edge creates its own at
# start (1 partition, 1 h retention).
#
# With SASL/SCRAM (compose): KAFKA_SCRAM_USERS names the services' Kafka users; the job logs in
# as `admin` and first gives each user its SCRAM-SHA-512 credential, every password read from
# $KAFKA_SECRETS/kafka-<user> (default /run/secrets, the compose secrets).
set -euo pipefail

KAFKA_TOPICS=${KAFKA_TOPICS:-/opt/kafka/bin/kafka-topics.sh}
KAFKA_CONFIGS=${KAFKA_CONFIGS:-/opt/kafka/bin/kafka-configs.sh}
SECRETS=${KAFKA_SECRETS:-/run/secrets}
BROKERS=${PARLEY_KAFKA_BROKERS:-kafka:19092}
PREFIX=${PARLEY_TOPIC_PREFIX:-}
PARTITIONS=${PARLEY_TOPIC_PARTITIONS:-12}
REPLICATION=${TOPIC_REPLICATION_FACTOR:-1}
# With replicas, acks=all means "written to at least 2": one broker may fail without data loss.
MIN_ISR=${TOPIC_MIN_INSYNC_REPLICAS:-$(( REPLICATION > 1 ? 2 : 1 ))}

DAY=86400000
# name and retention (ms). The chat topics are work queues: their retention bounds how long a
# consumer (relay-svc, offline-svc) may be down without losing records. Presence events and
# queries (sync pulls, history) are worthless after minutes; a day is plenty. Typing signals
# are dropped after 5 s by relay-svc: a minute is plenty.
TOPICS=(
  "chat.inbound     $((7 * DAY))"
  "chat.inbox       $((7 * DAY))"
  "chat.acks        $((7 * DAY))"
  "chat.queries     $DAY"
  "chat.signals     60000"
  "presence.events  $DAY"
  "presence.changes $DAY"
)

ADMIN=()
if [ -n "${KAFKA_SCRAM_USERS:-}" ]; then
  umask 077
  config=$(mktemp)
  trap 'rm -f "$config"' EXIT
  printf '%s\n' "security.protocol=SASL_PLAINTEXT" "sasl.mechanism=SCRAM-SHA-512" \
    "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"admin\" password=\"$(cat "$SECRETS/kafka-admin")\";" >"$config"
  ADMIN=(--command-config "$config")
  for user in $KAFKA_SCRAM_USERS; do
    "$KAFKA_CONFIGS" --bootstrap-server "$BROKERS" "${ADMIN[@]}" --alter --entity-type users --entity-name "$user" \
      --add-config "SCRAM-SHA-512=[password=$(cat "$SECRETS/kafka-$user")]" >/dev/null
    echo "create-topics: Kafka user $user ready"
  done
fi

create() { # topic, retention
  "$KAFKA_TOPICS" --bootstrap-server "$BROKERS" ${ADMIN[@]+"${ADMIN[@]}"} --create --if-not-exists \
    --topic "$1" --partitions "$PARTITIONS" --replication-factor "$REPLICATION" \
    --config "retention.ms=$2" --config "min.insync.replicas=$MIN_ISR" --config cleanup.policy=delete
}

for entry in "${TOPICS[@]}"; do
  read -r name retention <<<"$entry"
  topic="$PREFIX$name"
  for attempt in 1 2 3 4 5; do
    if create "$topic" "$retention"; then break; fi
    if [ "$attempt" -eq 5 ]; then echo "create-topics: could not create $topic" >&2; exit 1; fi
    echo "create-topics: $topic failed (attempt $attempt), retrying in 3 s" >&2
    sleep 3
  done
  echo "create-topics: $topic ready ($PARTITIONS partitions, retention ${retention} ms)"
done

#!/usr/bin/env bash
# Starts compose's KRaft broker with SASL/SCRAM. The admin user (the broker's own inter-broker
# user and the kafka-topics job's) must exist before the first SASL connection, so its SCRAM
# credential is written when the storage is formatted (`kafka-storage.sh format --add-scram`,
# first start only); the image's own start then finds the storage formatted. Every other user
# is added by the kafka-topics job (create-topics.sh). The password comes from the secret.
set -euo pipefail

SECRETS=${KAFKA_SECRETS:-/run/secrets}
ADMIN_PASSWORD=$(cat "$SECRETS/kafka-admin")
JAAS="org.apache.kafka.common.security.scram.ScramLoginModule required username=\"admin\" password=\"$ADMIN_PASSWORD\";"

# The broker's login on its SASL listeners (the image maps _ to . and ___ to -).
export KAFKA_LISTENER_NAME_INTERNAL_SCRAM___SHA___512_SASL_JAAS_CONFIG="$JAAS"
export KAFKA_LISTENER_NAME_HOST_SCRAM___SHA___512_SASL_JAAS_CONFIG="$JAAS"

# The healthcheck's client config (kafka-broker-api-versions.sh --command-config).
umask 077
printf 'security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-512\nsasl.jaas.config=%s\n' "$JAAS" >/tmp/admin.properties

cat >/tmp/format.properties <<PROPERTIES
process.roles=$KAFKA_PROCESS_ROLES
node.id=$KAFKA_NODE_ID
controller.quorum.voters=$KAFKA_CONTROLLER_QUORUM_VOTERS
controller.listener.names=$KAFKA_CONTROLLER_LISTENER_NAMES
listeners=$KAFKA_LISTENERS
listener.security.protocol.map=$KAFKA_LISTENER_SECURITY_PROTOCOL_MAP
inter.broker.listener.name=$KAFKA_INTER_BROKER_LISTENER_NAME
sasl.enabled.mechanisms=$KAFKA_SASL_ENABLED_MECHANISMS
sasl.mechanism.inter.broker.protocol=$KAFKA_SASL_MECHANISM_INTER_BROKER_PROTOCOL
log.dirs=$KAFKA_LOG_DIRS
PROPERTIES
/opt/kafka/bin/kafka-storage.sh format --ignore-formatted --cluster-id "$CLUSTER_ID" --config /tmp/format.properties \
  --add-scram "SCRAM-SHA-512=[name=admin,password=$ADMIN_PASSWORD]"
rm -f /tmp/format.properties

exec /etc/kafka/docker/run

#!/usr/bin/env bash
# Writes a random password for every Kafka and Redis user of compose.yaml into ./secrets (one
# file each, mode 600); existing files are kept, so running it again changes nothing.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p secrets
for name in kafka-admin kafka-relay kafka-presence kafka-offline kafka-edge redis-relay redis-presence redis-offline; do
  [ -s "secrets/$name" ] && continue
  (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"secrets/$name")
  echo "make-secrets: wrote secrets/$name"
done

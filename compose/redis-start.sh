#!/bin/sh
# Starts compose's Redis with one ACL user per service: the rules come from redis-users.acl,
# each password (as its SHA-256, never the password itself) from /run/secrets/redis-<user>.
# Arguments are passed on to redis-server.
set -eu

RULES=${REDIS_USERS_ACL:-/parley/redis-users.acl}
SECRETS=${REDIS_SECRETS:-/run/secrets}
ACL=${REDIS_ACL_FILE:-/tmp/users.acl}

umask 077
: >"$ACL"
grep -v '^[[:space:]]*\(#\|$\)' "$RULES" | while read -r user rules; do
  if [ "$user" = default ]; then
    echo "user default on nopass $rules" >>"$ACL"
  else
    password=$(cat "$SECRETS/redis-$user")
    hash=$(printf '%s' "$password" | sha256sum | cut -d' ' -f1)
    echo "user $user on #$hash $rules" >>"$ACL"
  fi
done

[ "${REDIS_ACL_ONLY:-}" = 1 ] && exit 0
exec redis-server --aclfile "$ACL" "$@"

#!/bin/sh
# Entry point of every Servidesk service image.
#
# Secrets may come as files (Docker/compose secrets, Kubernetes secret volumes): for each
# NAME below, NAME_FILE=/path sets NAME to the file's content. Only these names are
# read, so an unrelated variable that happens to end in _FILE (SERVIDESK_ENV_FILE) is
# left alone. Then the command replaces this shell (in compose, `init: true` puts tini
# in front of it as PID 1, to pass on signals and reap children).
set -eu

for name in SECRET_KEY JWT_PRIVATE_KEY JWT_PUBLIC_KEY DATABASE_URL BROKER_URL \
    EMAIL_HOST_PASSWORD TWILIO_AUTH_TOKEN GOOGLE_CLIENT_SECRET FACEBOOK_CLIENT_SECRET; do
    file=$(printenv "${name}_FILE" || true)
    [ -n "$file" ] || continue
    if [ -n "$(printenv "$name" || true)" ]; then
        echo "entrypoint: both $name and ${name}_FILE are set; set only one" >&2
        exit 1
    fi
    if [ ! -r "$file" ]; then
        echo "entrypoint: ${name}_FILE=$file cannot be read" >&2
        exit 1
    fi
    value=$(cat "$file")
    export "$name=$value"
    unset "${name}_FILE"
done

exec "$@"

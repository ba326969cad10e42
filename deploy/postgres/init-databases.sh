#!/usr/bin/env bash
# Creates one database and one login role per Servidesk service, on the first start of an
# empty PostgreSQL volume (the postgres image runs /docker-entrypoint-initdb.d/* then).
#
# The names and passwords come from the same <SERVICE>_DATABASE_URL variables the
# services read (deploy/compose.env), so there is one place to change them. Each service
# owns its database and may connect to no other one. Changing a URL later needs the role
# changed by hand (ALTER ROLE ... PASSWORD) or a fresh volume: this runs only once.
set -euo pipefail

url_decode() {
    local encoded="${1//+/ }"
    printf '%b' "${encoded//%/\\x}"
}

for service in ACCOUNTS TICKETS NOTIFIER REPORTS WEB; do
    var="${service}_DATABASE_URL"
    url="${!var:-}"
    if [[ -z "$url" ]]; then
        echo "init-databases: $var is not set; skipping ${service,,}" >&2
        continue
    fi
    if [[ ! "$url" =~ ^postgres(ql)?://([^:@/]+):([^@/]*)@[^/]+/([^/?]+) ]]; then
        echo "init-databases: $var is not postgres://USER:PASSWORD@HOST[:PORT]/NAME" >&2
        exit 1
    fi
    user="$(url_decode "${BASH_REMATCH[2]}")"
    password="$(url_decode "${BASH_REMATCH[3]}")"
    database="$(url_decode "${BASH_REMATCH[4]}")"
    echo "init-databases: role and database \"$database\" for ${service,,}"
    # psql variables (:"name" identifiers, :'name' literals) quote the values safely.
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
        -v role="$user" -v password="$password" -v database="$database" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
CREATE DATABASE :"database" OWNER :"role";
REVOKE ALL ON DATABASE :"database" FROM PUBLIC;
SQL
done

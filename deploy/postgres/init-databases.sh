#!/usr/bin/env bash
# Creates one database and one login role per Servidesk service, on the first start of an
# empty PostgreSQL volume (the postgres image runs /docker-entrypoint-initdb.d/* then).
#
# Each role is named after its service, owns the database of the same name and nothing
# else, and may connect to no other database: CONNECT is revoked from PUBLIC on each one,
# so only its owner (and the superuser) gets in. Passwords come from <SERVICE>_DB_PASSWORD
# (deploy/secrets/postgres.env, written by scripts/compose_secrets.py, which also writes
# the same password into that service's DATABASE_URL). This runs only once: changing a
# password later needs ALTER ROLE ... PASSWORD by hand, or a fresh volume.
#
# SERVIDESK_DB_PREFIX (default empty) prefixes the role and database names: tests run
# this script against a shared server under names of their own.
set -euo pipefail

prefix="${SERVIDESK_DB_PREFIX:-}"
for service in accounts tickets notifier reports web; do
    var="${service^^}_DB_PASSWORD"
    password="${!var:-}"
    if [[ -z "$password" ]]; then
        echo "init-databases: $var is not set: run scripts/compose_secrets.py first" >&2
        exit 1
    fi
    name="${prefix}${service}"
    echo "init-databases: role and database \"$name\""
    # psql variables (:"name" identifiers, :'name' literals) quote the values safely.
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
        -v name="$name" -v password="$password" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password' NOSUPERUSER NOCREATEDB NOCREATEROLE;
CREATE DATABASE :"name" OWNER :"name";
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
SQL
done

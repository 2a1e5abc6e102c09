#!/usr/bin/env bash
# The superuser half of setting up the database, for the db image: what api.migrate.bootstrap()
# does for the embedded cluster of `make run`. The image runs it once, as
# /docker-entrypoint-initdb.d/10-autodoc.sh, when the data volume is empty; it is idempotent, so
# after db/bootstrap.sql changes (and an image rebuild) run it again on a live container:
#   docker compose -f docker/compose.yaml exec db /docker-entrypoint-initdb.d/10-autodoc.sh
# Migrations then run as autodoc_owner only (docker/migrate.py), never as the superuser.
set -euo pipefail

: "${AUTODOC_DB_OWNER_PASSWORD:?must be set (docker/.env)}"
: "${AUTODOC_DB_API_PASSWORD:?must be set (docker/.env)}"
db=autodoc  # must equal cron.database_name in docker/postgres.Dockerfile
bootstrap_sql=${AUTODOC_BOOTSTRAP_SQL:-/opt/autodoc/bootstrap.sql}  # db/bootstrap.sql, copied by the image
psql=(psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet --username "${POSTGRES_USER:-postgres}")

# Roles: autodoc_owner, autodoc_api (NOINHERIT) and the NOLOGIN application roles.
"${psql[@]}" --dbname postgres --file "$bootstrap_sql"

# Passwords for the two LOGIN roles (they connect over the network here), then the database.
"${psql[@]}" --dbname postgres -v owner_pw="$AUTODOC_DB_OWNER_PASSWORD" -v api_pw="$AUTODOC_DB_API_PASSWORD" \
  -v db="$db" <<'SQL'
ALTER ROLE autodoc_owner PASSWORD :'owner_pw';
ALTER ROLE autodoc_api PASSWORD :'api_pw';
SELECT format('CREATE DATABASE %I OWNER autodoc_owner', :'db')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'db') \gexec
SELECT format('GRANT CONNECT ON DATABASE %I TO autodoc_api', :'db') \gexec
SQL

# Extensions need a superuser. pg_cron can live only in cron.database_name; jobs are scheduled by,
# and run as, the owner.
"${psql[@]}" --dbname "$db" <<'SQL'
CREATE EXTENSION IF NOT EXISTS btree_gist;
CREATE EXTENSION IF NOT EXISTS pg_cron;
GRANT USAGE ON SCHEMA cron TO autodoc_owner;
SQL
echo "autodoc: roles, database '$db' and extensions are ready"

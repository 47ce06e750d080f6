#!/usr/bin/env bash
# Runs once, when the PostgreSQL volume is first initialised: seedwatch's own
# state database beside Airflow's metadata database, with its own user.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v user="${SEEDWATCH_DB_USER:-seedwatch}" -v password="${SEEDWATCH_DB_PASSWORD:?}" <<'SQL'
CREATE USER :"user" WITH PASSWORD :'password';
CREATE DATABASE seedwatch OWNER :"user";
SQL

#!/usr/bin/env bash
# Makes a local PostgreSQL reachable on 127.0.0.1:5432 for the store tests, and prints
# its URL on stdout (everything else goes to stderr):
#
#   export PG_URL=$(bash scripts/pg.sh)
#
# Installs the Debian package `postgresql` if it is missing, starts the cluster, and
# creates the role `cumulo` (password `cumulo`) and the database `cumulo_test`.
# Idempotent: safe to run again at any time. Needs root (or sudo) on a fresh machine.
set -euo pipefail

PG_VERSION=${PG_VERSION:-15}
PG_CLUSTER=${PG_CLUSTER:-main}
PG_USER=cumulo
PG_PASSWORD=cumulo
PG_DB=cumulo_test
URL="postgres://$PG_USER:$PG_PASSWORD@127.0.0.1:5432/$PG_DB"

say() { echo "pg.sh: $*" >&2; }

# Runs a command as root: directly when we are root, else through sudo.
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# Runs a command as the postgres superuser (from / so it can always read its cwd).
as_postgres() {
  if [ "$(id -un)" = postgres ]; then (cd / && "$@")
  elif [ "$(id -u)" -eq 0 ] && command -v runuser >/dev/null; then (cd / && runuser -u postgres -- "$@")
  elif [ "$(id -u)" -eq 0 ]; then (cd / && su postgres -s /bin/bash -c "$(printf '%q ' "$@")")
  else (cd / && sudo -u postgres "$@")
  fi
}

psql_super() { as_postgres psql -X -q -v ON_ERROR_STOP=1 -tA "$@"; }

# 1. Install.
if ! command -v pg_ctlcluster >/dev/null; then
  say "installing postgresql"
  as_root apt-get update >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >&2
fi

# 2. The cluster: create it if the package did not (e.g. installed with create_main_cluster=false).
if ! pg_lsclusters -h 2>/dev/null | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" '$1==v && $2==c {f=1} END {exit !f}'; then
  say "creating cluster $PG_VERSION/$PG_CLUSTER"
  as_root pg_createcluster "$PG_VERSION" "$PG_CLUSTER" --port 5432 >&2
fi

# 3. Start it (already running is fine).
if ! pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" status >/dev/null 2>&1; then
  say "starting cluster $PG_VERSION/$PG_CLUSTER"
  out=$(as_root pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" start 2>&1) || {
    case "$out" in *"already running"*) ;; *) echo "$out" >&2; exit 1 ;; esac
  }
fi
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 -p 5432 && break
  sleep 1
done
pg_isready -q -h 127.0.0.1 -p 5432 || { say "PostgreSQL did not become ready on 127.0.0.1:5432"; exit 1; }

# 4. Role and database.
if [ "$(psql_super -c "SELECT 1 FROM pg_roles WHERE rolname = '$PG_USER'")" != 1 ]; then
  say "creating role $PG_USER"
  psql_super -c "CREATE ROLE $PG_USER LOGIN PASSWORD '$PG_PASSWORD'"
fi
if [ "$(psql_super -c "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")" != 1 ]; then
  say "creating database $PG_DB"
  psql_super -c "CREATE DATABASE $PG_DB OWNER $PG_USER"
fi

echo "$URL"

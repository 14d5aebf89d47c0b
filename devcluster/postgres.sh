#!/usr/bin/env bash
# A throwaway PostgreSQL for the tests of the task store (the service's replicas share one in production).
# Usage: postgres.sh start|stop|status|url. Idempotent. Runs as root; the server runs as the `postgres`
# user on 127.0.0.1:55432 with its data, socket and log under .demo/postgres/. `url` prints the SQLAlchemy
# URL of the test database (role `firecrest`, a random password kept in .demo/postgres/url, mode 0600).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
demo=$root/.demo
base=$demo/postgres
data=$base/data
socket_dir=$base/run
logfile=$base/server.log
pidfile=$demo/pids/postgres.pid
urlfile=$base/url
port=55432
database=firecrest_tests
role=firecrest

say() { printf 'postgres: %s\n' "$*"; }
die() { printf 'postgres: error: %s\n' "$*" >&2; exit 1; }

as_postgres() { runuser -u postgres -- "$@"; }

bindir() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$dir" ] || return 1
  printf '%s\n' "$dir"
}

install_server() {
  bindir >/dev/null && id postgres >/dev/null 2>&1 && return
  say "installing PostgreSQL (apt)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
}

running() { [ -s "$data/postmaster.pid" ] && as_postgres "$(bindir)/pg_ctl" -D "$data" status >/dev/null 2>&1; }

psql_admin() {  # psql_admin SQL -> runs it as the superuser over the private socket
  as_postgres env PGOPTIONS="-c client_min_messages=warning" "$(bindir)/psql" -h "$socket_dir" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA -c "$1"
}

init_cluster() {
  [ -s "$data/PG_VERSION" ] && return
  say "creating a database cluster in $data"
  as_postgres test -x "$demo" || die "the postgres user cannot reach $demo; move the checkout somewhere world-searchable"
  install -d -o postgres -g postgres -m 0700 "$data" "$socket_dir"
  as_postgres "$(bindir)/initdb" -D "$data" -U postgres -E UTF8 --no-locale \
    --auth-local=peer --auth-host=scram-sha-256 >/dev/null
  rm -f "$urlfile"  # a new cluster has no test role yet
  cat >> "$data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$socket_dir'
fsync = off
EOF
}

ensure_database() {
  local password
  if [ ! -s "$urlfile" ]; then
    password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
    psql_admin "DROP DATABASE IF EXISTS $database" >/dev/null
    psql_admin "DROP ROLE IF EXISTS $role" >/dev/null
    psql_admin "CREATE ROLE $role LOGIN PASSWORD '$password'" >/dev/null
    psql_admin "CREATE DATABASE $database OWNER $role" >/dev/null
    (umask 077 && printf 'postgresql+psycopg2://%s:%s@127.0.0.1:%s/%s\n' "$role" "$password" "$port" "$database" > "$urlfile")
  fi
}

start() {
  install_server
  mkdir -p "$base" "$demo/pids"
  init_cluster
  if ! running; then
    say "starting PostgreSQL on 127.0.0.1:$port"
    install -d -o postgres -g postgres -m 0700 "$socket_dir"
    touch "$logfile" && chown postgres:postgres "$logfile"
    as_postgres "$(bindir)/pg_ctl" -D "$data" -l "$logfile" -w -t 60 start >/dev/null \
      || die "PostgreSQL did not start; see $logfile"
  fi
  head -n 1 "$data/postmaster.pid" > "$pidfile"
  ensure_database
}

stop() {
  if bindir >/dev/null && running; then
    say "stopping PostgreSQL"
    as_postgres "$(bindir)/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null
  fi
  rm -f "$pidfile"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) if bindir >/dev/null && running; then echo "postgres: running"; else echo "postgres: stopped"; fi ;;
  url) [ -s "$urlfile" ] || die "not started yet: postgres.sh start"; cat "$urlfile" ;;
  *) die "usage: postgres.sh start|stop|status|url" ;;
esac

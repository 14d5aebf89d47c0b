#!/usr/bin/env bash
# A throwaway PostgreSQL for the tests of the task store (the service's replicas share one in production).
# Usage: postgres.sh start|stop|status|url. Idempotent. Runs as root; the server runs as the `postgres`
# user on 127.0.0.1:55432 (one per machine) with its data, socket and log in its own directory under the
# postgres user's home (/var/lib/postgresql/firecrest-hub-tests: .demo is private to root, and the server
# must not need it); .demo/logs/postgres.log points at the log. `url` prints the SQLAlchemy URL of the
# test database (role `firecrest`, a random password kept in .demo/postgres/url, mode 0600).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
demo=$root/.demo
old_base=$demo/postgres  # where the server lived before .demo became private
pidfile=$demo/pids/postgres.pid
urlfile=$demo/postgres/url
port=55432
database=firecrest_tests
role=firecrest

say() { printf 'postgres: %s\n' "$*"; }
die() { printf 'postgres: error: %s\n' "$*" >&2; exit 1; }

as_postgres() { (cd / && runuser -u postgres -- "$@"); }  # from a directory user postgres may enter

postgres_home() { getent passwd postgres | cut -d: -f6; }
base=$(postgres_home 2>/dev/null || true)
base=${base:-/var/lib/postgresql}/firecrest-hub-tests
data=$base/data
socket_dir=$base/run
logfile=$base/server.log

bindir() {
  local dir
  dir=$(printf '%s\n' /usr/lib/postgresql/*/bin | grep -v '\*' | sort -V | tail -n 1)
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

# An earlier version kept the server under .demo/postgres: stop it (as root: user postgres can no longer
# enter .demo) and drop it, so that the new one gets the port. Its data was a throwaway test database.
retire_old_location() {
  [ -e "$old_base/data" ] || return 0
  local pid
  pid=$(head -n 1 "$old_base/data/postmaster.pid" 2>/dev/null || true)
  if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = postgres ]; then
    say "stopping the PostgreSQL of the old location $old_base (pid $pid)"
    kill -INT "$pid" 2>/dev/null || true
    for _ in $(seq 240); do [ -e "/proc/$pid" ] || break; sleep 0.25; done
    [ ! -e "/proc/$pid" ] || die "the old PostgreSQL (pid $pid) did not stop"
  fi
  rm -rf "${old_base:?}/data" "$old_base/run" "$old_base/server.log" "$urlfile"
}

psql_admin() {  # psql_admin SQL -> runs it as the superuser over the private socket
  as_postgres env PGOPTIONS="-c client_min_messages=warning" "$(bindir)/psql" -h "$socket_dir" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA -c "$1"
}

init_cluster() {
  [ -s "$data/PG_VERSION" ] && return
  say "creating a database cluster in $data"
  install -d -o postgres -g postgres -m 0700 "$base" "$data" "$socket_dir"
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
    install -d -m 0700 "$demo/postgres"
    (umask 077 && printf 'postgresql+psycopg2://%s:%s@127.0.0.1:%s/%s\n' "$role" "$password" "$port" "$database" > "$urlfile")
    return
  fi
  # The server is one per machine, this checkout's URL its own: another checkout may have made the role
  # anew since. Give it this URL's password again (a hex string: nothing to quote).
  password=$(sed -n 's|^postgresql+psycopg2://[^:]*:\([0-9a-f]*\)@.*|\1|p' "$urlfile")
  [ -n "$password" ] || die "$urlfile holds no test URL; remove it and start again"
  if [ -z "$(psql_admin "SELECT 1 FROM pg_roles WHERE rolname = '$role'")" ]; then
    psql_admin "CREATE ROLE $role LOGIN PASSWORD '$password'" >/dev/null
  else
    psql_admin "ALTER ROLE $role LOGIN PASSWORD '$password'" >/dev/null
  fi
  if [ -z "$(psql_admin "SELECT 1 FROM pg_database WHERE datname = '$database'")" ]; then
    psql_admin "CREATE DATABASE $database OWNER $role" >/dev/null
  fi
}

start() {
  install_server
  install -d -m 0700 "$demo" "$demo/pids" "$demo/logs"
  retire_old_location
  init_cluster
  if ! running; then
    say "starting PostgreSQL on 127.0.0.1:$port"
    install -d -o postgres -g postgres -m 0700 "$socket_dir"
    (umask 077 && touch "$logfile") && chown postgres:postgres "$logfile" && chmod 0600 "$logfile"
    as_postgres "$(bindir)/pg_ctl" -D "$data" -l "$logfile" -w -t 60 start >/dev/null \
      || die "PostgreSQL did not start; see $logfile"
  fi
  (umask 077 && head -n 1 "$data/postmaster.pid" > "$pidfile")
  ln -sfn "$logfile" "$demo/logs/postgres.log"
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

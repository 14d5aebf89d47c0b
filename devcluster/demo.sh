#!/usr/bin/env bash
# The demo: the dev cluster, then JupyterHub (with configurable-http-proxy) and the firecrest service it
# manages. Usage: demo.sh start|stop|status. Idempotent; state, logs and pid files live in .demo/, which
# is private to root (cluster.sh start makes it so, also on an old checkout): the hub's database and
# cookie secret, the admin token and logs that show other users' requests.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
demo=$root/.demo
hub_url=http://127.0.0.1:8000
python=${PYTHON:-python3}

say() { printf 'demo: %s\n' "$*"; }
die() { printf 'demo: error: %s\n' "$*" >&2; exit 1; }

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

install_python_packages() {
  local stamp=$demo/python.stamp
  if [ ! -e "$stamp" ] || [ "$root/pyproject.toml" -nt "$stamp" ] || ! "$python" -c 'import firecrest_hub' 2>/dev/null; then
    say "installing the project and its test dependencies (pip)"
    "$python" -m pip install -q -e "${root}[test]"
    touch "$stamp"
  fi
}

install_proxy() {
  command -v configurable-http-proxy >/dev/null && return
  say "installing configurable-http-proxy (npm)"
  npm install -g --silent configurable-http-proxy >/dev/null
}

# Chromium for the browser tests (Playwright drives Debian's build: `playwright install` cannot
# download browsers here).
install_chromium() {
  [ -x /usr/bin/chromium ] && return
  say "installing chromium (apt)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
}

ensure_admin_token() {
  [ -s "$demo/admin.token" ] && return
  (umask 077 && "$python" -c 'import secrets; print(secrets.token_hex(32))' > "$demo/admin.token")
}

wait_for() {  # wait_for SECONDS DESCRIPTION LOG COMMAND...
  local seconds=$1 what=$2 logfile=$3; shift 3
  for _ in $(seq $((seconds * 4))); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.25
  done
  die "$what did not come up within ${seconds}s; see $logfile"
}

http_status() {  # http_status URL -> prints the status code
  curl -s -o /dev/null -w '%{http_code}' "$1"
}

service_answers() { [ "$(http_status "$hub_url/services/firecrest/api/v1/status/parameters")" = 401 ]; }

start() {
  bash "$root/devcluster/cluster.sh" start
  install -d -m 0700 "$demo/hub" "$demo/logs" "$demo/pids"
  install_python_packages
  install_proxy
  install_chromium
  PYTHON="$python" bash "$root/devcluster/notebook-env.sh"
  ensure_admin_token
  if ! alive "$demo/pids/hub.pid"; then
    say "starting JupyterHub on $hub_url"
    # umask 077: its log, its SQLite database (and journals) and what the service it starts writes
    # (the task store) are root's alone
    (cd "$root" && umask 077 && setsid nohup "$python" -m jupyterhub -f "$root/jupyterhub_config.py" \
        >> "$demo/logs/hub.log" 2>&1 < /dev/null &)
  fi
  wait_for 60 "JupyterHub" "$demo/logs/hub.log" curl -sf "$hub_url/hub/api/"
  wait_for 60 "the firecrest service" "$demo/logs/hub.log" service_answers
  say "up: JupyterHub $hub_url (users alice and bob, password: ${FIRECREST_DEMO_PASSWORD:-firecrest-demo})"
  say "    REST API $hub_url/services/firecrest/api/v1/ ; admin token in .demo/admin.token"
}

stop_hub() {
  local pidfile=$demo/pids/hub.pid
  alive "$pidfile" || return 0
  say "stopping JupyterHub"
  kill "$(cat "$pidfile")" 2>/dev/null || true
  for _ in $(seq 60); do alive "$pidfile" || break; sleep 0.25; done
  if alive "$pidfile"; then kill -9 "$(cat "$pidfile")" 2>/dev/null || true; fi
  rm -f "$pidfile"
}

case "${1:-start}" in
  start) start ;;
  stop) stop_hub; bash "$root/devcluster/cluster.sh" stop ;;
  stop-hub) stop_hub ;;
  status)
    bash "$root/devcluster/cluster.sh" status
    if alive "$demo/pids/hub.pid"; then echo "hub: running"; else echo "hub: stopped"; fi ;;
  *) die "usage: demo.sh start|stop|stop-hub|status" ;;
esac

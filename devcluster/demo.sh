#!/usr/bin/env bash
# The demo: the dev cluster, then the Traefik proxy, JupyterHub and the firecrest service it manages.
# Usage: demo.sh start|stop|stop-hub|status. Idempotent. The proxy and the hub are the `proxy` and `hub`
# programs of the cluster's supervisord (devcluster/supervisord.conf), started once the cluster answers;
# `stop` stops them with the cluster, `stop-hub` the hub alone (the proxy and its routes stay). State and logs live in .demo/, which is private to root
# (cluster.sh start makes it so, also on an old checkout): the hub's database and cookie secret, the
# admin token and logs that show other users' requests.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
demo=$root/.demo
hub_url=http://127.0.0.1:8000
python=${PYTHON:-python3}
export PYTHON=$python  # the hub runs with this interpreter (cluster.sh), so does notebook-env.sh

say() { printf 'demo: %s\n' "$*"; }
die() { printf 'demo: error: %s\n' "$*" >&2; exit 1; }

cluster() { bash "$root/devcluster/cluster.sh" "$@"; }

install_python_packages() {
  local stamp=$demo/python.stamp
  if [ ! -e "$stamp" ] || [ "$root/pyproject.toml" -nt "$stamp" ] || ! "$python" -c 'import firecrest_hub' 2>/dev/null; then
    say "installing the project, its test dependencies and the hub's proxy (pip)"
    "$python" -m pip install -q -e "${root}[test,traefik]"
    touch "$stamp"
  fi
}

# Chromium for the browser tests (Playwright drives Debian's build: `playwright install` cannot
# download browsers here).
install_chromium() {
  [ -x /usr/bin/chromium ] && return
  say "installing chromium (apt)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
}

new_secret() {  # new_secret FILE: a random hex secret in FILE (0600), unless it holds one already
  [ -s "$1" ] && return
  (umask 077 && "$python" -c 'import secrets; print(secrets.token_hex(32))' > "$1")
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

hub_running() { cluster ctl status hub 2>/dev/null | grep -q RUNNING; }

start() {
  # the hub's database and cookie secret (jupyterhub_config.py) live in .demo/hub, which it does not make
  install -d -m 0700 "$demo" "$demo/hub"
  # what the hub's program needs (its interpreter, with the proxy beside it) before cluster.sh writes it
  install_python_packages
  install_chromium
  bash "$root/devcluster/notebook-env.sh"
  cluster start
  new_secret "$demo/admin.token"
  # the password of the proxy's API, which the hub manages routes through (jupyterhub_config.py); the
  # hub keeps the password hash an existing routes file holds, so a new password starts a new file
  if [ ! -s "$demo/hub/traefik-api.password" ]; then
    rm -f "$demo/hub/traefik-routes.toml"
    new_secret "$demo/hub/traefik-api.password"
  fi
  # Traefik watches the routes file only if it exists when it starts; the hub fills it.
  [ -e "$demo/hub/traefik-routes.toml" ] || install -m 0600 /dev/null "$demo/hub/traefik-routes.toml"
  cluster ctl start proxy >/dev/null || die "the proxy did not start; see $demo/logs/proxy.log"
  if ! hub_running; then
    say "starting JupyterHub on $hub_url"
    cluster ctl start hub >/dev/null || die "JupyterHub did not start; see $demo/logs/hub.log"
  fi
  wait_for 60 "JupyterHub" "$demo/logs/hub.log" curl -sf "$hub_url/hub/api/"
  wait_for 60 "the firecrest service" "$demo/logs/hub.log" service_answers
  say "up: JupyterHub $hub_url (users alice and bob, password: ${FIRECREST_DEMO_PASSWORD:-firecrest-demo})"
  say "    REST API $hub_url/services/firecrest/api/v1/ ; admin token in .demo/admin.token"
}

stop_hub() {
  hub_running || return 0
  say "stopping JupyterHub"
  cluster ctl stop hub >/dev/null
}

case "${1:-start}" in
  start) start ;;
  stop) cluster stop ;;
  stop-hub) stop_hub ;;
  status) cluster status ;;
  *) die "usage: demo.sh start|stop|stop-hub|status" ;;
esac

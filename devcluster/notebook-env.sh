#!/usr/bin/env bash
# The notebook environment that spawned Slurm jobs run: a virtualenv made from Debian's /usr/bin/python3 in
# a world-readable place, with JupyterLab and the hub's jupyterhub (same major.minor), plus our launcher
# `firecrest-singleuser` (spawner/launcher.py). Every user must be able to read and execute it: a venv
# made from an interpreter under root's home (mode 0700, e.g. pyenv) fails in the job with "Permission
# denied". Idempotent; a second run only checks a stamp and the launcher.
# Usage: notebook-env.sh [PREFIX]   (default /opt/firecrest-hub/notebook, or $FIRECREST_NOTEBOOK_ENV)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
prefix=${1:-${FIRECREST_NOTEBOOK_ENV:-/opt/firecrest-hub/notebook}}
hub_python=${PYTHON:-python3}
system_python=/usr/bin/python3

say() { printf 'notebook-env: %s\n' "$*"; }

umask 022

if ! "$system_python" -c 'import ensurepip, venv' 2>/dev/null; then
  say "installing python3-venv (apt)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
fi

# The singleuser server talks to the hub's REST API: keep it on the hub's own major.minor.
hub_version=$("$hub_python" -c 'import jupyterhub; print(jupyterhub.__version__)')
requirements=("jupyterhub==$(cut -d. -f1,2 <<<"$hub_version").*" "jupyterlab>=4,<5")
stamp=$prefix/.firecrest-hub-requirements

if [ ! -x "$prefix/bin/jupyterhub-singleuser" ] || [ "$(cat "$stamp" 2>/dev/null)" != "${requirements[*]}" ]; then
  say "building $prefix (${requirements[*]})"
  mkdir -p "$(dirname "$prefix")"
  [ -x "$prefix/bin/python" ] || "$system_python" -m venv "$prefix"
  "$prefix/bin/python" -m pip install -q --disable-pip-version-check --no-cache-dir "${requirements[@]}"
  chmod -R a+rX "$prefix"
  printf '%s\n' "${requirements[*]}" > "$stamp"
fi

# The launcher reports the server's port to the hub, then starts jupyterhub-singleuser.
launcher=$prefix/bin/firecrest-singleuser
wanted=$(mktemp)
trap 'rm -f "$wanted"' EXIT
{ printf '#!%s\n' "$prefix/bin/python"; tail -n +2 "$root/spawner/launcher.py"; } > "$wanted"
if ! cmp -s "$wanted" "$launcher"; then
  install -m 0755 "$wanted" "$launcher"
fi

# JupyterLab defaults for compute nodes, which usually cannot reach the internet: no news, no update checks.
mkdir -p "$prefix/share/jupyter/lab/settings"
cat > "$prefix/share/jupyter/lab/settings/overrides.json" <<'JSON'
{
  "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": false}
}
JSON

# What the jobs need, checked as an unprivileged user rather than assumed.
if ! runuser -u nobody -- "$prefix/bin/python" -c 'import jupyterhub' 2>/dev/null; then
  echo "notebook-env: error: users cannot run $prefix/bin/python; make $prefix and its parents world-readable" >&2
  exit 1
fi
say "ready: $prefix"

#!/usr/bin/env bash
# firecrest-hub dev cluster: the account the service creates, changes and deletes Slurm reservations as.
#
#   bash devcluster/reservation-account.sh [ACCOUNT]    # default fc-reserve; as root, slurmdbd answering
#
# Making reservations needs Slurm operator rights, which no user has: the service runs those commands
# (always with Users=<the caller's account>) as this account, the system's `reservation_account` in
# jupyterhub_config.py. It needs a login on the cluster (a Linux user with a home and an unlocked
# password field, reached only with a certificate of the user CA, like the service account) and
# AdminLevel=Operator in Slurm's accounting. No hub user may act as it (identity.py denies every
# system's reservation account). Idempotent: a second run changes nothing.
set -euo pipefail

ACCOUNT="${1:-fc-reserve}"
SLURM_ACCOUNT="demo"   # sacctmgr adds a user only together with an association to an account
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH="$PATH:/usr/sbin:/sbin" ;; esac

log() { printf 'reservation-account: %s\n' "$*"; }

if [[ $(id -u) -ne 0 ]]; then
    log "must run as root" >&2
    exit 1
fi
if ! [[ $ACCOUNT =~ ^[a-z_][a-z0-9_-]{0,31}$ ]]; then
    log "$ACCOUNT is not a POSIX account name" >&2
    exit 1
fi

# -- the login -----------------------------------------------------------------------------------------
if ! id -u "$ACCOUNT" >/dev/null 2>&1; then
    if getent group "$ACCOUNT" >/dev/null; then # left over from an earlier, partial run
        useradd -m -s /bin/bash -g "$ACCOUNT" "$ACCOUNT"
    else
        useradd -m -s /bin/bash "$ACCOUNT"
    fi
    log "created user $ACCOUNT"
fi
home="$(getent passwd "$ACCOUNT" | cut -d: -f6)"
if [[ ! -d $home ]]; then
    mkdir -p "$home"
    cp -a /etc/skel/. "$home"/ 2>/dev/null || true
    chown -R "$ACCOUNT:$(id -gn "$ACCOUNT")" "$home"
    chmod 0750 "$home"
    log "made the home $home"
fi
# sshd (UsePAM no) refuses accounts whose password field is locked ('!'); '*' allows no password login,
# but certificates work.
if [[ $(getent shadow "$ACCOUNT" | cut -d: -f2) != '*' ]]; then
    usermod -p '*' "$ACCOUNT"
    log "unlocked the password field of $ACCOUNT (no password: certificates only)"
fi

# -- Slurm operator rights -----------------------------------------------------------------------------
# sacctmgr "add" exits non-zero with "Nothing new added" when the user exists: check first.
if ! sacctmgr -n -P list user "$ACCOUNT" format=user | grep -qx "$ACCOUNT"; then
    sacctmgr -i add user "$ACCOUNT" account="$SLURM_ACCOUNT" adminlevel=Operator >/dev/null
    log "added Slurm user $ACCOUNT (account $SLURM_ACCOUNT) with AdminLevel=Operator"
elif [[ $(sacctmgr -n -P list user "$ACCOUNT" format=adminlevel) != Operator ]]; then
    sacctmgr -i modify user where name="$ACCOUNT" set adminlevel=Operator >/dev/null
    log "set AdminLevel=Operator for Slurm user $ACCOUNT"
fi

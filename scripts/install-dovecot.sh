#!/usr/bin/env bash
# Install the Dovecot packages Mailkeys is tested against (Debian 12: dovecot 2.3.19) and make
# sure no system-wide Dovecot is left running: the test harness starts its own instances on
# free loopback ports, and an operator wires the shipped config in deploy/dovecot by hand.
#
# Idempotent; non-interactive; safe to run on a fresh Debian 12 (with or without systemd).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

PACKAGES=(dovecot-core dovecot-imapd dovecot-sqlite dovecot-pgsql)
log() { echo "install-dovecot: $*"; }

if [ "$(id -u)" -ne 0 ]; then
    echo "install-dovecot: must run as root" >&2
    exit 1
fi

missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done

if [ "${#missing[@]}" -eq 0 ] && command -v dovecot >/dev/null 2>&1; then
    log "already installed: $(dovecot --version 2>/dev/null || echo '?') (${PACKAGES[*]})"
else
    log "installing: ${missing[*]:-${PACKAGES[*]}}"
    # Keep the package's maintainer scripts from starting a system dovecot (ports 143/993):
    # policy-rc.d exit 101 = "action forbidden" for invoke-rc.d / deb-systemd-invoke.
    added_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        added_policy=1
    fi
    cleanup() { if [ "$added_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi; }
    trap cleanup EXIT
    apt-get update -q
    apt-get install -y -q --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        "${PACKAGES[@]}"
    cleanup
    trap - EXIT
    log "installed: $(dovecot --version)"
fi

# Whatever happened above (or in an earlier run), leave no system dovecot running or enabled.
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    if systemctl is-active --quiet dovecot.service dovecot.socket 2>/dev/null; then
        log "stopping systemd dovecot"
    fi
    systemctl stop dovecot.socket dovecot.service >/dev/null 2>&1 || true
    if systemctl is-enabled --quiet dovecot.service 2>/dev/null || systemctl is-enabled --quiet dovecot.socket 2>/dev/null; then
        log "disabling systemd dovecot"
        systemctl disable dovecot.service dovecot.socket >/dev/null 2>&1 || true
    fi
else
    if [ -x /etc/init.d/dovecot ]; then
        /etc/init.d/dovecot stop >/dev/null 2>&1 || true
        update-rc.d dovecot disable >/dev/null 2>&1 || true
    fi
fi
# A system instance runs with base_dir /run/dovecot; stop it if something still runs there.
if [ -f /run/dovecot/master.pid ]; then
    pid="$(cat /run/dovecot/master.pid 2>/dev/null || true)"
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        log "stopping system dovecot (pid $pid)"
        doveadm -c /etc/dovecot/dovecot.conf stop >/dev/null 2>&1 || kill "$pid" || true
    fi
fi
log "system dovecot: not running (test instances are started by crates/test-support/src/dovecot)"

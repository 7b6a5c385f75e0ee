#!/usr/bin/env bash
# Builds (once) a Debian 13 "trixie" root holding the real Dovecot 2.4 packages, so the test
# suite can run every Dovecot test against 2.4 as well as against the host's 2.3 (Debian 12).
#
#     scripts/install-dovecot24.sh            # prints the root's path when it is ready
#
# The root lives outside the clone, in $MAILKEYS_DOVECOT24_ROOT (default
# /var/cache/mailkeys-test/dovecot-2.4), and is rebuilt only when it is missing or incomplete
# (no marker file). Building takes 2-3 minutes and about 300 MB from Debian's archive.
# Dovecot runs inside with `chroot ROOT dovecot -c CONF` and sees only files under ROOT; the
# test harness (crates/test-support) keeps each instance's files under ROOT/tmp.
#
# Idempotent, non-interactive; needs root (debootstrap and chroot).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

ROOT="${MAILKEYS_DOVECOT24_ROOT:-/var/cache/mailkeys-test/dovecot-2.4}"
MIRROR="${MAILKEYS_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
PACKAGES=dovecot-imapd,dovecot-pop3d,dovecot-submissiond,dovecot-sqlite,dovecot-pgsql
MARKER="$ROOT/.mailkeys-root-complete"
log() { echo "install-dovecot24: $*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
    log "must run as root (debootstrap, chroot)"
    exit 1
fi

if [ -f "$MARKER" ] && [ -x "$ROOT/usr/sbin/dovecot" ]; then
    log "ready: $ROOT ($(chroot "$ROOT" /usr/sbin/dovecot --version))"
    echo "$ROOT"
    exit 0
fi

if ! command -v debootstrap >/dev/null 2>&1; then
    log "installing debootstrap"
    apt-get update -q >&2
    apt-get install -y -q --no-install-recommends debootstrap >&2
fi

# Build next to the target and move it into place only when complete, so an interrupted
# build never looks ready.
parent="$(dirname "$ROOT")"
mkdir -p "$parent"
work="$ROOT.building"
rm -rf "$work"
log "building $ROOT from $MIRROR (trixie, $PACKAGES); this takes a few minutes"
if ! debootstrap --variant=minbase --include="$PACKAGES" trixie "$work" "$MIRROR" >"$parent/debootstrap.log" 2>&1; then
    tail -n 30 "$parent/debootstrap.log" >&2
    log "debootstrap failed (full log: $parent/debootstrap.log)"
    exit 1
fi
# Keep the packages' maintainer scripts from ever starting a Dovecot inside the root.
printf '#!/bin/sh\nexit 101\n' >"$work/usr/sbin/policy-rc.d"
chmod 755 "$work/usr/sbin/policy-rc.d"
# Each test instance keeps its files (configuration, certificates, SQLite database) here.
chmod 1777 "$work/tmp"
version="$(chroot "$work" /usr/sbin/dovecot --version)"
case "$version" in
2.4.*) ;;
*)
    log "expected Dovecot 2.4 in the root, found '$version'"
    exit 1
    ;;
esac
rm -rf "$ROOT"
mv "$work" "$ROOT"
echo "$version" >"$MARKER"
log "ready: $ROOT ($version)"
echo "$ROOT"

#!/usr/bin/env bash
# swift-env.sh — make a working `swift` (SwiftPM + XCTest) available on a Linux CI machine.
#
# If `swift` is on PATH it is used as is. Otherwise a Debian trixie root with Debian's `swiftlang`
# is created once (debootstrap + apt) in a cache directory outside the repository and commands
# are run inside it with chroot, the project directory bind-mounted at the same path.
#
# Usage:
#   scripts/swift-env.sh [ensure]            make swift available; print how to invoke it
#   scripts/swift-env.sh run DIR CMD [ARG..] run CMD with DIR as working directory, where swift works
#                                            (chroot mode: the git top level containing DIR — or DIR
#                                            itself outside git — is bind-mounted at the same path)
#   scripts/swift-env.sh swift [ARG..]       shorthand for: run "$PWD" swift ARG..
#   scripts/swift-env.sh shell [DIR]         interactive shell in the same environment
#   scripts/swift-env.sh status              print mode, root, stamp, disk use; create nothing
#
# Environment:
#   REALTIME_SWIFT_ROOT     cache root (default /var/cache/realtime/swift-trixie)
#   REALTIME_SWIFT_LOG      log file   (default <root>.log)
#   REALTIME_SWIFT_MIRROR   Debian mirror for debootstrap (default: first Debian URI apt uses here)
#   REALTIME_SWIFT_CHROOT=1 use the trixie root even if a swift is on PATH
#   REALTIME_SWIFT_MOUNTS   extra host paths (colon-separated) bind-mounted at the same path
#   REALTIME_SWIFT_PASSENV  extra variable names (space-separated) passed into the chroot
#                           (always passed: TERM CI LD_LIBRARY_PATH SWIFT_* REALTIME_*)
#   REALTIME_SWIFT_HOST_TMP=0  keep the root's own /tmp (default: host /tmp is bind-mounted)
set -euo pipefail

ROOT="${REALTIME_SWIFT_ROOT:-/var/cache/realtime/swift-trixie}"
ROOT="${ROOT%/}"
LOG="${REALTIME_SWIFT_LOG:-$ROOT.log}"
LOCK="$ROOT.lock"
STAMP_NAME=".realtime-swift-ready"
SUITE=trixie
# Bump STAMP_VERSION or change PACKAGES to force a rebuild of existing roots.
STAMP_VERSION=1
PACKAGES=(swiftlang libswiftlang libc6-dev libstdc++-14-dev ca-certificates git)
CHROOT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"

say() { printf '[swift-env %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { say "error: $*"; exit 1; }

stamp_content() { printf 'version=%s suite=%s packages=%s\n' "$STAMP_VERSION" "$SUITE" "${PACKAGES[*]}"; }

root_complete() {
    [[ -f "$ROOT/$STAMP_NAME" ]] && head -n1 "$ROOT/$STAMP_NAME" | grep -qxF "$(stamp_content)"
}

native_swift() {
    [[ "${REALTIME_SWIFT_CHROOT:-0}" != 1 ]] && command -v swift >/dev/null 2>&1
}

# The Debian mirror apt on this machine uses (deb822 .sources or one-line .list format).
detect_mirror() {
    if [[ -n "${REALTIME_SWIFT_MIRROR:-}" ]]; then echo "$REALTIME_SWIFT_MIRROR"; return; fi
    local f uri
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f "$f" ]] || continue
        uri="$(awk 'tolower($1)=="uris:" {for (i=2;i<=NF;i++) print $i}' "$f" \
              | grep -E '/debian/?$' | grep -v -- '-security' | head -n1 || true)"
        [[ -n "$uri" ]] && { echo "${uri%/}"; return; }
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f "$f" ]] || continue
        uri="$(awk '$1=="deb" { for (i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break } }' "$f" \
              | grep -E '/debian/?$' | grep -v -- '-security' | head -n1 || true)"
        [[ -n "$uri" ]] && { echo "${uri%/}"; return; }
    done
    echo "http://deb.debian.org/debian"
}

# Mount points of the given path and below (as listed in /proc/self/mounts, deepest first).
mounts_under() {
    awk -v p="$1" '{ m=$2; gsub(/\\040/," ",m); if (m==p || index(m, p"/")==1) print m }' \
        /proc/self/mounts | sort -r
}

safe_remove() {  # remove a (partial) root; refuse if anything is still mounted inside it
    local d="$1"
    [[ -e "$d" ]] || return 0
    if [[ -n "$(mounts_under "$d")" ]]; then
        die "refusing to delete $d: still has mounts: $(mounts_under "$d" | tr '\n' ' ')"
    fi
    rm -rf --one-file-system -- "$d"
}

# Run a command inside root $1 with /proc /sys /dev (and optional host dirs) mounted.
# Uses a private mount namespace (unshare) when possible so nothing leaks to the host even on
# SIGKILL; the EXIT trap unmounts in any case.
in_root() {  # in_root ROOT WORKDIR "mount1:mount2" CMD...
    if [[ -z "${_SWIFT_ENV_NS:-}" ]] && command -v unshare >/dev/null 2>&1 \
        && unshare --mount --propagation private true 2>/dev/null; then
        _SWIFT_ENV_NS=1 exec unshare --mount --propagation private -- "$SELF" __in_root "$@"
    fi
    _in_root "$@"
}

MOUNTED=()
unmount_all() {
    local i
    for ((i=${#MOUNTED[@]}-1; i>=0; i--)); do
        umount -R "${MOUNTED[i]}" 2>/dev/null || umount -R -l "${MOUNTED[i]}" 2>/dev/null || true
    done
    MOUNTED=()
}

_in_root() {
    local root="$1" workdir="$2" binds="$3"; shift 3
    trap unmount_all EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    mount -t proc proc "$root/proc";           MOUNTED+=("$root/proc")
    mount --rbind /sys "$root/sys";             MOUNTED+=("$root/sys")
    mount --make-rslave "$root/sys" 2>/dev/null || true
    mount --rbind /dev "$root/dev";             MOUNTED+=("$root/dev")
    mount --make-rslave "$root/dev" 2>/dev/null || true
    # Host /tmp as the root's /tmp: same paths as the host for projects and files under /tmp,
    # SwiftPM's lock files (kept in /tmp) shared with other runs, and its leftover
    # TemporaryDirectory.* litter goes to the host's /tmp rather than into the cached root.
    if [[ "${REALTIME_SWIFT_HOST_TMP:-1}" == 1 ]]; then
        mount --bind /tmp "$root/tmp";          MOUNTED+=("$root/tmp")
    fi
    local b IFS=:
    for b in $binds; do
        [[ -n "$b" ]] || continue
        mkdir -p "$root$b"
        mount --rbind "$b" "$root$b";           MOUNTED+=("$root$b")
    done
    unset IFS
    # Environment: clean, plus a whitelist.
    local -a envv=(HOME=/root PATH="$CHROOT_PATH" LANG=C.UTF-8 LC_ALL=C.UTF-8 SHELL=/bin/bash
                   DEBIAN_FRONTEND=noninteractive)
    local v
    for v in TERM CI LD_LIBRARY_PATH ${REALTIME_SWIFT_PASSENV:-} $(compgen -v | grep -E '^(SWIFT|REALTIME)_' || true); do
        [[ -n "${!v+x}" ]] && envv+=("$v=${!v}")
    done
    local rc=0
    chroot "$root" /usr/bin/env -i "${envv[@]}" /bin/bash -c 'cd "$1" && shift && exec "$@"' \
        swift-env "$workdir" "$@" || rc=$?
    unmount_all
    return "$rc"
}

create_root() {
    local partial="$ROOT.partial" mirror t0 t1
    mirror="$(detect_mirror)"
    mkdir -p "$(dirname "$ROOT")"
    : >"$LOG"
    t0=$(date +%s)
    say "creating Debian $SUITE root in $ROOT (mirror $mirror; log: $LOG)"
    safe_remove "$partial"
    if ! command -v debootstrap >/dev/null 2>&1; then
        say "installing debootstrap on the host (apt)"
        { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends debootstrap; } \
            >>"$LOG" 2>&1 || die "apt-get install debootstrap failed (see $LOG)"
    fi
    say "debootstrap --variant=minbase $SUITE ..."
    debootstrap --variant=minbase "$SUITE" "$partial" "$mirror" >>"$LOG" 2>&1 \
        || die "debootstrap failed (see $LOG; tail: $(tail -n 3 "$LOG" | tr '\n' ' '))"
    # No services inside the root; no docs/man pages (saves disk and time).
    printf '#!/bin/sh\nexit 101\n' >"$partial/usr/sbin/policy-rc.d"; chmod +x "$partial/usr/sbin/policy-rc.d"
    cat >"$partial/etc/dpkg/dpkg.cfg.d/01-realtime-nodoc" <<'EOF'
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
EOF
    chmod 1777 "$partial/tmp"
    say "apt-get install ${PACKAGES[*]} (inside the root) ..."
    (   _SWIFT_ENV_NS='' REALTIME_SWIFT_HOST_TMP=0 in_root "$partial" / "" /bin/sh -c \
            "apt-get update && apt-get install -y --no-install-recommends ${PACKAGES[*]} && apt-get clean"
    ) >>"$LOG" 2>&1 || die "apt-get install inside the root failed (see $LOG)"
    local ver
    ver="$( (in_root "$partial" / "" swift --version) 2>&1 | grep -m1 -i 'swift version')" \
        || die "swift --version fails inside the new root (see $LOG)"
    { stamp_content; echo "swift=$ver"; echo "created=$(date -u +%FT%TZ) mirror=$mirror"; } >"$partial/$STAMP_NAME"
    safe_remove "$ROOT"
    mv -T "$partial" "$ROOT"
    t1=$(date +%s)
    say "ready in $((t1 - t0)) s, $(du -sh --one-file-system "$ROOT" 2>/dev/null | cut -f1) on disk: $ver"
}

# Take the lock shared when the root is complete; otherwise exclusive, (re)create, downgrade.
# The lock stays held (fd 9) for the life of this process so the root isn't rebuilt under a run.
ensure_root() {
    [[ $EUID -eq 0 ]] || die "no swift on PATH, and creating/using the $SUITE chroot needs root"
    mkdir -p "$(dirname "$LOCK")"
    exec 9>"$LOCK"
    flock -s 9
    root_complete && return 0
    flock -u 9
    say "root absent or incomplete; taking lock $LOCK"; flock -x 9
    if ! root_complete; then
        create_root
    fi
    flock -s 9
}

mount_root_for() {  # the directory to bind-mount for work dir $1
    local d="$1" top
    if top="$(git -C "$d" rev-parse --show-toplevel 2>/dev/null)" && [[ -n "$top" ]]; then
        echo "$top"
    else
        echo "$d"
    fi
}

cmd_run() {
    [[ $# -ge 2 ]] || die "usage: $0 run DIR CMD [ARG..]"
    local dir; dir="$(cd "$1" && pwd -P)" || die "no such directory: $1"; shift
    if native_swift; then
        cd "$dir" && exec "$@"
    fi
    ensure_root
    local binds; binds="$(mount_root_for "$dir")${REALTIME_SWIFT_MOUNTS:+:$REALTIME_SWIFT_MOUNTS}"
    in_root "$ROOT" "$dir" "$binds" "$@"
}

cmd_ensure() {
    if native_swift; then
        say "using swift on PATH: $(command -v swift) ($(swift --version 2>&1 | head -n1))"
        echo "swift is native: run it directly, or: $SELF run DIR swift build|test"
        return 0
    fi
    ensure_root
    say "using $SUITE root $ROOT ($(sed -n 's/^swift=//p' "$ROOT/$STAMP_NAME"))"
    echo "run swift as: $SELF run DIR swift build|test   (DIR's git top level is bind-mounted at the same path)"
}

cmd_status() {
    if native_swift; then echo "mode=native swift=$(command -v swift)"; return 0; fi
    echo "mode=chroot root=$ROOT"
    if root_complete; then
        cat "$ROOT/$STAMP_NAME"
        echo "disk=$(du -sh --one-file-system "$ROOT" 2>/dev/null | cut -f1)"
    else
        echo "state=absent-or-incomplete"
    fi
}

main() {
    local sub="${1:-ensure}"; [[ $# -gt 0 ]] && shift
    case "$sub" in
        ensure)   cmd_ensure ;;
        run)      cmd_run "$@" ;;
        swift)    cmd_run "$PWD" swift "$@" ;;
        shell)    cmd_run "${1:-$PWD}" bash -i ;;
        status)   cmd_status ;;
        __in_root) _in_root "$@" ;;
        -h|--help|help) sed -n '2,25p' "$SELF" | sed 's/^# \{0,1\}//' ;;
        *) die "unknown sub-command '$sub' (try --help)" ;;
    esac
}

main "$@"

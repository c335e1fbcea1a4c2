#!/usr/bin/env bash
# The controller's package cache for the lab hosts and molecule instances: apt-cacher-ng,
# started here (these machines have no init to start it), its files kept outside any
# clone so that every clone, run and scenario on this machine downloads a package once.
#   apt-cache.sh ensure    start it unless it already listens; safe to run again
#   apt-cache.sh address   print the address containers reach it on
# Containers reach it on an address of the host's own loopback interface, routed to the
# host through their network's gateway whatever podman network they are on; it listens
# there and on 127.0.0.1 only. The lab image asks for it before each apt run and goes
# straight to the mirror when it does not answer (lab.sh, configure_rootfs), so roles
# never know it exists and a stopped cache only costs time.
# Settings (environment): WEBSTACK_APT_CACHE_ADDRESS (10.77.255.254),
# WEBSTACK_APT_CACHE_DIR (/var/cache/opsforge-webstack-apt).
set -euo pipefail

ADDRESS=${WEBSTACK_APT_CACHE_ADDRESS:-10.77.255.254}
STATE=${WEBSTACK_APT_CACHE_DIR:-/var/cache/opsforge-webstack-apt}
PORT=3142

die() { echo "apt-cache: $*" >&2; exit 1; }

listening() { ss -Hltn "src $ADDRESS:$PORT" | grep -q .; }

ensure() {
  [[ $(id -u) -eq 0 ]] || die "run me as root: I add an address to the loopback interface"
  command -v apt-cacher-ng >/dev/null || die "apt-cacher-ng is missing; './dev setup' installs it"
  ip -4 -br addr show dev lo | grep -qw "$ADDRESS/32" || ip addr add "$ADDRESS/32" dev lo
  mkdir -p "$STATE/conf" "$STATE/cache" "$STATE/log"
  # No remapping of mirrors (the Debian package's default picks mirrors of its own, which
  # cannot be reached here): a plain caching proxy for whatever mirror the image names.
  cat >"$STATE/conf/acng.conf" <<CONF
# Written by opsforge.webstack lab/apt-cache.sh
CacheDir: $STATE/cache
LogDir: $STATE/log
Port: $PORT
BindAddress: 127.0.0.1 $ADDRESS
ExThreshold: 4
CONF
  listening && return 0
  pkill -f "apt-cacher-ng -c $STATE/conf" 2>/dev/null || true
  # The daemon outlives this run and would keep every descriptor it inherits open: a caller's lock (flock) would
  # stay held, a caller's pipe never see its end. It gets none but the standard three.
  (
    for fd in /proc/self/fd/*; do
      fd=${fd##*/}
      [[ $fd -gt 2 ]] && eval "exec $fd>&-" 2>/dev/null
    done
    exec apt-cacher-ng -c "$STATE/conf" ForeGround=0 PidFile="$STATE/pid" SocketPath="$STATE/socket"
  )
  for _ in $(seq 50); do
    listening && return 0
    sleep 0.1
  done
  die "apt-cacher-ng did not start listening on $ADDRESS:$PORT; see $STATE/log/apt-cacher.err"
}

case ${1:-} in
  ensure) ensure ;;
  address) echo "$ADDRESS:$PORT" ;;
  *) die "usage: $0 ensure | address" ;;
esac

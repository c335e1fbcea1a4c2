#!/usr/bin/env bash
# The local lab: systemd hosts as podman containers on a private network.
#   lab.sh up                 build the image if missing, create or start every host
#   lab.sh down [--image]     remove the hosts and the network (and the image)
#   lab.sh status             what exists and what runs
#   lab.sh recreate HOST      throw one host away and create it again
#   lab.sh image              build the base image if missing; print its name
# Ansible reaches the hosts over SSH, as it reaches production: ssh runs `sshd -i` in the
# container through `podman exec` (lab/ssh_config), and keeps that one
# connection open for every later task. No sshd listens in the lab.
# Settings (environment): WEBSTACK_LAB_NETWORK (webstack-lab),
# WEBSTACK_LAB_SUBNET (10.77.0.0/24), WEBSTACK_LAB_IMAGE (the image's name),
# WEBSTACK_LAB_MIRROR (a Debian mirror; default: the host's own apt source),
# WEBSTACK_LAB_RELEASE (the Debian release of the image: trixie, the default, or bookworm;
# each release's image is tagged with its name, so both can exist side by side).
# Every failure leaves nothing half-created.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=${WEBSTACK_VENV:-$ROOT/.venv}/bin/python
INVENTORY=$ROOT/inventories/lab/hosts.yml
NETWORK=${WEBSTACK_LAB_NETWORK:-webstack-lab}
SUBNET=${WEBSTACK_LAB_SUBNET:-10.77.0.0/24}
IMAGE=${WEBSTACK_LAB_IMAGE:-localhost/opsforge-webstack-base}
# The Debian releases the collection supports; the image of each is tagged with the release's name.
RELEASES=(bookworm trixie)
SUITE=${WEBSTACK_LAB_RELEASE:-trixie}
LABEL=opsforge.lab=webstack
# What systemd as PID 1 needs to sandbox services as on a server: CAP_SYS_ADMIN to give a unit its own mount
# namespace (ProtectSystem=, ReadWritePaths=; without it systemd 257 starts the unit without one and logs that at
# debug level only), CAP_SYS_PTRACE to reach a unit's process under ProtectProc=invisible while it sets up
# PrivateUsers= (without it: "Failed to set up user namespacing", status 217/USER). The molecule scenarios'
# platforms give their instances the same (tests/unit/lab/test_container_capabilities.py keeps them equal).
SANDBOX_CAPABILITIES=(SYS_ADMIN SYS_PTRACE)
# The controller's key for the lab, kept outside any clone so that every clone reuses the hosts.
SSH_KEY=/var/lib/opsforge-webstack/lab-ssh/id_ed25519
# The user Ansible logs in as (lab/ssh_config's User), and the group sshd lets in (the common role's default
# common_ssh_allow_groups).
ADMIN_USER=admin
SSH_GROUP=webstack-ssh
# Everything every host needs before Ansible can manage it; roles install the rest. Added to the
# common role's base packages (curl, less, lsof, needrestart, ...: what Debian's cloud images bring
# too), which every lab host and molecule instance would otherwise unpack again in each converge.
IMAGE_PACKAGES=systemd,systemd-sysv,dbus,python3,python3-apt,sudo,ca-certificates,iproute2,procps,acl,locales,tzdata,openssh-server

die() { echo "lab: $*" >&2; exit 1; }
say() { echo "lab: $*" >&2; }

[[ " ${RELEASES[*]} " == *" $SUITE "* ]] ||
  die "WEBSTACK_LAB_RELEASE is '$SUITE'; the lab builds one of: ${RELEASES[*]}"
[[ $(id -u) -eq 0 ]] || die "run me as root: podman, its network and debootstrap need root (try: sudo $0 $*)"
command -v podman >/dev/null || die "podman is missing; './dev setup' installs it"
[[ -x $PYTHON ]] || die "the project virtualenv is missing; './dev setup' creates it"
IMAGE_PACKAGES=$({ echo "$IMAGE_PACKAGES"; "$PYTHON" "$ROOT/lab/labinfo.py" base-packages "$ROOT/roles/common/defaults/main.yml"; } |
  tr , '\n' | awk '!seen[$0]++' | paste -sd,)
# The controller's package cache (lab/apt-cache.sh), which the image asks before each download.
APT_CACHE=$("$ROOT/lab/apt-cache.sh" address)

# The recipe's hash names the image, so a changed recipe builds a new one.
recipe_tag() {
  printf '%s\n' "$SUITE" "$IMAGE_PACKAGES" "$APT_CACHE" "$(cat "$SSH_KEY.pub")" "$ADMIN_USER" "$SSH_GROUP" \
    "$(declare -f build_image configure_rootfs)" |
    sha256sum | cut -c1-12
}

configure_rootfs() {
  local rootfs=$1
  {
    echo "deb $MIRROR $SUITE main"
    echo "deb $MIRROR $SUITE-updates main"
    [[ -z $SECURITY_MIRROR ]] || echo "deb $SECURITY_MIRROR $SUITE-security main"
  } >"$rootfs/etc/apt/sources.list"
  # systemd makes a fresh machine-id per container at boot.
  : >"$rootfs/etc/machine-id"
  # Containers run with --no-hosts, so /etc/hosts is the image's own file.
  printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$rootfs/etc/hosts"
  # apt asks for the controller's package cache (lab/apt-cache.sh) before it downloads, and
  # goes straight to the mirror when the cache does not answer.
  install -D -m 0755 /dev/stdin "$rootfs/usr/local/lib/webstack-lab/apt-proxy" <<SCRIPT
#!/bin/sh
# The lab image's apt proxy: the controller's package cache when it answers, else none.
if timeout 1 bash -c 'exec 3<>/dev/tcp/${APT_CACHE%:*}/${APT_CACHE#*:}' 2>/dev/null; then
  echo http://$APT_CACHE
else
  echo DIRECT
fi
SCRIPT
  echo 'Acquire::http::Proxy-Auto-Detect "/usr/local/lib/webstack-lab/apt-proxy";' \
    >"$rootfs/etc/apt/apt.conf.d/01webstack-lab-cache"
  echo "en_US.UTF-8 UTF-8" >"$rootfs/etc/locale.gen"
  chroot "$rootfs" locale-gen >/dev/null
  # A container has no consoles and no hardware to wait for.
  chroot "$rootfs" systemctl mask -q getty@tty1.service console-getty.service \
    systemd-udevd.service systemd-udev-trigger.service systemd-remount-fs.service
  # sshd runs only per connection (`sshd -i`, through podman exec), never as a listening service.
  chroot "$rootfs" systemctl mask -q ssh.service ssh.socket
  # Ansible logs in as production's does: as the admin user of a cloud image (Debian's are called admin), with
  # the controller's lab key, sudo without a password, and in the group the common role lets in over SSH
  # (common_ssh_allow_groups), so that the first run gets in; root has no key and, once the common role has run,
  # no SSH login at all. The lab's hosts and the molecule instances alike.
  chroot "$rootfs" groupadd --system "$SSH_GROUP"
  chroot "$rootfs" useradd --create-home --shell /bin/bash --groups "$SSH_GROUP" "$ADMIN_USER"
  install -d -m 0700 "$rootfs/home/$ADMIN_USER/.ssh"
  install -m 0600 "$SSH_KEY.pub" "$rootfs/home/$ADMIN_USER/.ssh/authorized_keys"
  chroot "$rootfs" chown -R "$ADMIN_USER:$ADMIN_USER" "/home/$ADMIN_USER/.ssh"
  install -m 0440 /dev/stdin "$rootfs/etc/sudoers.d/90-webstack-lab-$ADMIN_USER" <<<"$ADMIN_USER ALL=(ALL:ALL) NOPASSWD: ALL"
  chroot "$rootfs" visudo -cq
  echo 'd /run/sshd 0755 root root -' >"$rootfs/usr/lib/tmpfiles.d/webstack-lab-sshd.conf"
  chroot "$rootfs" apt-get clean
}

build_image() {
  local tag=$1 rootfs
  eval "$("$PYTHON" "$ROOT/lab/labinfo.py" mirrors "$SUITE")"
  MIRROR=${WEBSTACK_LAB_MIRROR:-$MIRROR}
  command -v debootstrap >/dev/null || die "debootstrap is missing; './dev setup' installs it"
  rootfs=$(mktemp -d /var/tmp/webstack-rootfs.XXXXXX)
  # shellcheck disable=SC2064 # expand now: the path is fixed
  trap "rm -rf '$rootfs'" EXIT
  say "building image $IMAGE:$tag from $MIRROR (about a minute)"
  # Through the package cache too, when it runs.
  if ! http_proxy=$(ss -Hltn "src 127.0.0.1:${APT_CACHE#*:}" | grep -q . && echo "http://127.0.0.1:${APT_CACHE#*:}") \
    debootstrap --variant=minbase --include="$IMAGE_PACKAGES" "$SUITE" "$rootfs" "$MIRROR" \
    >"$rootfs.log" 2>&1; then
    tail -n 20 "$rootfs.log" >&2
    rm -f "$rootfs.log"
    die "could not build the image: debootstrap of $SUITE from $MIRROR failed (log above); nothing was imported"
  fi
  rm -f "$rootfs.log"
  configure_rootfs "$rootfs"
  tar -C "$rootfs" -c . | podman import --change 'CMD ["/sbin/init"]' \
    --change "LABEL $LABEL" - "$IMAGE:$tag" >/dev/null ||
    die "could not import the image into podman"
  podman tag "$IMAGE:$tag" "$IMAGE:$SUITE"
  rm -rf "$rootfs"
  trap - EXIT
}

ensure_image() {
  local tag
  ensure_ssh_key
  tag=$(recipe_tag)
  if ! podman image exists "$IMAGE:$tag"; then
    build_image "$tag"
    # Drop images of older recipes that no container uses any more; never the current image of another
    # release (the one its release's name tags).
    old_images "$tag" | xargs -r podman rmi >/dev/null 2>&1 || true
  fi
  podman tag "$IMAGE:$tag" "$IMAGE:$SUITE"
  echo "$IMAGE:$tag"
}

# The images of this lab that are neither the current recipe's (tag $1) nor any release's current one (tagged with
# its name).
old_images() {
  local tag=$1 current release
  current=$(for release in "${RELEASES[@]}"; do podman image inspect --format '{{.Id}}' "$IMAGE:$release" 2>/dev/null || true; done)
  podman images --no-trunc --format '{{.ID}} {{.Repository}}:{{.Tag}}' --filter "reference=$IMAGE" |
    grep -v -e ":$tag\$" | grep -vF -f <(echo "${current:-none}" | sed 's/^sha256://') | cut -d' ' -f2
}

ensure_ssh_key() {
  [[ -f $SSH_KEY ]] && return 0
  mkdir -p -m 0700 "$(dirname "$SSH_KEY")"
  ssh-keygen -q -t ed25519 -N '' -C opsforge-webstack-lab -f "$SSH_KEY"
}

ensure_network() {
  local clashes existing
  if podman network exists "$NETWORK"; then
    [[ $(podman network inspect "$NETWORK" --format '{{index .Labels "opsforge.lab"}}') == webstack ]] ||
      die "the network name '$NETWORK' is taken by a network this lab did not create; set WEBSTACK_LAB_NETWORK to another name"
    existing=$(podman network inspect "$NETWORK" --format '{{range .Subnets}}{{.Subnet}}{{end}}')
    [[ $existing == "$SUBNET" ]] ||
      die "the lab network '$NETWORK' uses $existing, not $SUBNET; run '$0 down' first to change it"
  fi
  clashes=$("$PYTHON" "$ROOT/lab/labinfo.py" clashes "$SUBNET" "$NETWORK")
  [[ -z $clashes ]] ||
    die "the address range $SUBNET is taken by: $(echo "$clashes" | paste -sd ';'); set WEBSTACK_LAB_SUBNET to a free range"
  if ! podman network exists "$NETWORK"; then
    podman network create --subnet "$SUBNET" --label "$LABEL" "$NETWORK" >/dev/null
    CREATED+=("network:$NETWORK")
  fi
}

# What a container is made from; a container made differently is recreated. NET_ADMIN lets the host manage its own
# firewall (the firewall role's nftables ruleset, in the container's network namespace only), as a server does.
container_spec() {
  local host=$1 address=$2 image=$3
  echo "--name lab-$host --hostname $host --network $NETWORK --ip $address --mac-address $(mac_address "$address")" \
    "--cap-add NET_ADMIN ${SANDBOX_CAPABILITIES[*]/#/--cap-add } --no-hosts --systemd=always --restart=always --label $LABEL $(unified_cgroup_volume)" \
    "$image /sbin/init"
}

# A fixed MAC address per host (locally administered, from its IPv4 address), as a server keeps its NIC's
# across a reboot: with podman's random one, a restarted host (the object store in the backup tests, a host
# the patch tests reboot) was unreachable from peers that still had its old address cached (35 s, measured).
mac_address() {
  local IFS=.
  # shellcheck disable=SC2086 # split on the dots
  set -- $1
  printf '02:00:%02x:%02x:%02x:%02x' "$1" "$2" "$3" "$4"
}

# On a host with cgroup v1 (hybrid), podman gives a container only the v1 hierarchies, where systemd never hears
# that a unit's cgroup emptied: every stop of a unit that leaves a process behind (uvicorn's multiprocessing
# resource tracker) waited out TimeoutStopSec and ended "failed". The host's v2 hierarchy, where systemd
# tracks processes in hybrid mode, gives it that notice; a v2-only host needs nothing.
unified_cgroup_volume() {
  if mountpoint -q /sys/fs/cgroup/unified; then echo "--volume /sys/fs/cgroup/unified:/sys/fs/cgroup/unified:rw"; fi
}

ensure_host() {
  local host=$1 address=$2 image=$3 spec hash name=lab-$1
  spec=$(container_spec "$host" "$address" "$image")
  hash=$(echo "$spec" | sha256sum | cut -c1-12)
  if podman container exists "$name"; then
    [[ $(podman inspect "$name" --format '{{index .Config.Labels "opsforge.lab"}}') == webstack ]] ||
      die "a container named '$name' exists that this lab did not create; remove or rename it"
    if [[ $(podman inspect "$name" --format '{{index .Config.Labels "opsforge.lab.spec"}}') != "$hash" ]]; then
      say "$host: made from an older recipe, recreating"
      podman rm -f "$name" >/dev/null
    elif [[ $(podman inspect "$name" --format '{{.State.Running}}') != true ]]; then
      say "$host: stopped, starting"
      podman start "$name" >/dev/null 2>&1 || {
        say "$host: would not start, recreating"
        podman rm -f "$name" >/dev/null
      }
    fi
  fi
  if ! podman container exists "$name"; then
    # shellcheck disable=SC2046 # the spec is a list of words
    podman run -d --label "opsforge.lab.spec=$hash" $(container_spec "$host" "$address" "$image") >/dev/null
    CREATED+=("container:$name")
  fi
}

wait_booted() {
  local host=$1 state
  for _ in $(seq 60); do
    state=$(podman exec "lab-$host" systemctl is-system-running 2>/dev/null || true)
    case $state in
      running | degraded) return 0 ;;
    esac
    sleep 1
  done
  die "$host: systemd did not finish booting within 60 s (state: ${state:-unknown}); see 'podman logs lab-$host'"
}

# On failure, remove what this run created so nothing stays half-made.
CREATED=()
undo_created() {
  local item
  for item in "${CREATED[@]}"; do
    case $item in
      container:*) podman rm -f "${item#container:}" >/dev/null 2>&1 || true ;;
      network:*) podman network rm -f "${item#network:}" >/dev/null 2>&1 || true ;;
    esac
  done
  [[ ${#CREATED[@]} -eq 0 ]] || say "removed what this run had created: ${CREATED[*]}"
}

hosts() { "$PYTHON" "$ROOT/lab/labinfo.py" hosts "$INVENTORY" "$SUBNET"; }

# A container whose processes were killed (by the end of a session, say) goes without its CNI teardown: its
# network namespace stays, with the host's address and MAC, and its end of the veth stays on the lab's bridge.
# When the host is started or made again, the bridge sends part of its traffic to that dead namespace, which
# answers with resets ("connection refused" from a host that listens). No process runs in such a namespace:
# remove every one that still holds an address of the lab.
release_stale_addresses() {
  local ns address lab_addresses
  lab_addresses=$(hosts | awk '{print $2}')
  while read -r ns _; do
    [[ -z $(ip netns pids "$ns" 2>/dev/null) ]] || continue
    for address in $(ip -n "$ns" -4 -o addr show 2>/dev/null | awk '{sub("/.*", "", $4); print $4}'); do
      if grep -qxF "$address" <<<"$lab_addresses"; then
        say "removing the network namespace $ns of a container gone without its teardown (it held $address)"
        ip netns delete "$ns"
        break
      fi
    done
  done < <(ip netns list)
}

cmd_up() {
  local image host address
  trap 'status=$?; [[ $status -eq 0 ]] || undo_created' EXIT
  ensure_network
  image=$(ensure_image)
  while read -r host address; do
    ensure_host "$host" "$address" "$image"
  done < <(hosts)
  release_stale_addresses
  while read -r host _; do
    wait_booted "$host"
  done < <(hosts)
  trap - EXIT
  say "all hosts up on $NETWORK ($SUBNET) from $image"
}

remove_lab_containers() {
  local containers
  containers=$(podman ps -aq --filter "label=$LABEL")
  [[ -z $containers ]] || podman rm -f $containers >/dev/null
}

cmd_down() {
  # A container's /dev/shm can still be busy for a moment after it stops ("device or resource busy"): once more.
  remove_lab_containers || { sleep 2 && remove_lab_containers; }
  if podman network exists "$NETWORK"; then
    podman network rm -f "$NETWORK" >/dev/null
  fi
  # CNI's host-local address store outlives the network when a container went without its CNI teardown (its
  # processes killed): the next `lab up` would find every lab address taken. No container is left to own one.
  rm -rf "/var/lib/cni/networks/$NETWORK"
  release_stale_addresses
  if [[ ${1:-} == --image ]]; then
    podman images -q --filter "reference=$IMAGE" | sort -u | xargs -r podman rmi -f >/dev/null
  fi
  say "lab removed"
}

cmd_status() {
  podman ps -a --filter "label=$LABEL" \
    --format 'table {{.Names}}\t{{.Status}}\t{{.Networks}}\t{{.Image}}'
}

cmd_recreate() {
  local wanted=${1:?usage: lab.sh recreate HOST} image host address
  hosts | cut -d' ' -f1 | grep -qx "$wanted" ||
    die "no lab host named '$wanted'; the hosts are: $(hosts | cut -d' ' -f1 | paste -sd ' ')"
  ensure_network
  image=$(ensure_image)
  while read -r host address; do
    if [[ $host == "$wanted" ]]; then
      podman rm -f "lab-$host" >/dev/null 2>&1 || true
      ensure_host "$host" "$address" "$image"
      release_stale_addresses
      wait_booted "$host"
      say "$host recreated"
    fi
  done < <(hosts)
}

case ${1:-} in
  up) cmd_up ;;
  down) cmd_down "${2:-}" ;;
  status) cmd_status ;;
  recreate) cmd_recreate "${2:-}" ;;
  image) ensure_image ;;
  *) die "usage: $0 up | down [--image] | status | recreate HOST | image" ;;
esac

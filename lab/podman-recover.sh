#!/usr/bin/env bash
# Podman keeps its runtime state under /run. When every process of a session
# is killed without a reboot (as happens here between a working session and
# CI), that state outlives the containers: podman still reports them running,
# their addresses stay allocated and runc still holds their IDs, so they can be
# neither stopped, started nor recreated. A reboot would wipe that state; this
# wipes the same state, and only when no container on the machine really runs.
set -euo pipefail

command -v podman >/dev/null || exit 0
[[ $(id -u) -eq 0 ]] || exit 0

LIBPOD_TMP=/run/libpod
NETWORK_RUN=/run/containers/networks
RUNC_STATE=/run/runc

# A container runs when its conmon does.
conmon_alive() { [[ $1 -gt 0 && $(cat "/proc/$1/comm" 2>/dev/null) == conmon ]]; }

live=() stale=()
while read -r name state conmon id; do
  [[ -n $name ]] || continue
  if conmon_alive "$conmon"; then
    live+=("$name")
  # Recorded as running, or left with a runc state (one refreshed earlier).
  elif [[ $state =~ ^(running|stopping|paused)$ || -d $RUNC_STATE/$id ]]; then
    stale+=("$name")
  fi
done < <(podman ps -aq | xargs -r podman inspect --format '{{.Name}} {{.State.Status}} {{.State.ConmonPid}} {{.Id}}')

[[ ${#stale[@]} -gt 0 ]] || exit 0
if [[ ${#live[@]} -gt 0 ]]; then
  echo "podman-recover: ${stale[*]} are recorded as running but their processes are gone;" \
    "other containers (${live[*]}) still run, so their state is left alone." \
    "Remove the stale ones with 'podman rm -f', or reboot." >&2
  exit 0
fi

echo "podman-recover: the processes of ${#stale[@]} container(s) were killed without a reboot;" \
  "clearing podman's runtime state as a reboot would"
for dir in "$RUNC_STATE"/*/; do
  [[ -d $dir ]] && runc delete --force "$(basename "$dir")" 2>/dev/null || true
done
rm -f "$NETWORK_RUN/ipam.db" "$NETWORK_RUN/aardvark-dns/aardvark.pid" "$LIBPOD_TMP/alive"
# The next podman command sees no 'alive' file and resets every container to
# its after-boot state; the lock warnings it prints about that are expected.
podman ps -a >/dev/null 2>&1

#!/usr/bin/env bash
# Make this machine a controller and lab host: Debian packages, podman's
# settings and the project virtualenv. Safe to run again; does only what is missing.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Resolved: a worktree may link .venv to the main checkout's, and `python3 -m venv` refuses a symlink.
VENV=$(readlink -f "${WEBSTACK_VENV:-$ROOT/.venv}")
# podman and runc run the lab; debootstrap builds its image; postgresql, pgbouncer,
# redis and pgbackrest are the real services and tools the module and app integration
# tests start on loopback (the object store, rclone, comes from requirements/dev.txt);
# openssl makes their test CA; wrk drives the benchmarks; apt-cacher-ng is the lab's
# package cache; ssh reaches the lab hosts; prometheus and prometheus-alertmanager carry promtool and
# amtool, which check the prometheus role's configuration and test its alert rules (tests/unit).
# The controller runs Debian 12 or 13: its own release's PostgreSQL (15 or 17, from the collection's table).
CONTAINERS_CONF=/etc/containers/containers.conf.d/50-opsforge-webstack.conf

die() { echo "setup: $*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "run me as root: I install Debian packages and configure podman"

codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
pg_version=$(python3 -c 'import runpy, sys
releases = runpy.run_path(sys.argv[1])["RELEASES"]
print(releases[sys.argv[2]]["postgresql_version"] if sys.argv[2] in releases else "")' \
  "$ROOT/plugins/module_utils/debian_releases.py" "$codename")
[[ -n $pg_version ]] || die "this controller runs Debian '$codename'; the lab's controller is Debian 12 (bookworm) or 13 (trixie)"
PACKAGES=(podman runc debootstrap python3-venv python3-pip git openssl
  "postgresql-$pg_version" pgbouncer redis-server pgbackrest wrk apt-cacher-ng openssh-client
  prometheus prometheus-alertmanager)

missing=()
for package in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "setup: installing ${missing[*]}"
  # Debian starts PostgreSQL, PgBouncer and Redis on install; the tests start
  # their own on loopback, so keep the packages' services from starting at all.
  export DEBIAN_FRONTEND=noninteractive
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod 0755 /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  rm -f /usr/sbin/policy-rc.d
  trap - EXIT
  for service in postgresql pgbouncer redis-server apt-cacher-ng prometheus prometheus-alertmanager; do
    systemctl disable "$service" >/dev/null 2>&1 || update-rc.d "$service" disable >/dev/null 2>&1 || true
  done
  if pg_lsclusters -h 2>/dev/null | grep -q "^$pg_version main"; then
    pg_dropcluster --stop "$pg_version" main
  fi
fi

# crun fails here (cgroups in hybrid mode), and raising rlimits is not permitted.
mkdir -p "$(dirname "$CONTAINERS_CONF")"
cat >"$CONTAINERS_CONF.new" <<'CONF'
# Written by opsforge.webstack lab/setup-host.sh
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]

[engine]
runtime = "runc"
CONF
if cmp -s "$CONTAINERS_CONF.new" "$CONTAINERS_CONF"; then
  rm -f "$CONTAINERS_CONF.new"
else
  mv "$CONTAINERS_CONF.new" "$CONTAINERS_CONF"
fi

"$ROOT/lab/podman-recover.sh"
"$ROOT/lab/apt-cache.sh" ensure

stamp=$VENV/.requirements.sha256
wanted=$(cat "$ROOT"/requirements/*.txt | sha256sum | cut -d' ' -f1)
if [[ ! -x $VENV/bin/python || $(cat "$stamp" 2>/dev/null) != "$wanted" ]]; then
  echo "setup: installing the Python requirements into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check --upgrade pip
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$ROOT/requirements/dev.txt"
  echo "$wanted" >"$stamp"
fi

# Ansible finds this collection by name through this link.
link=$ROOT/.cache/collections/ansible_collections/opsforge/webstack
mkdir -p "$(dirname "$link")"
[[ -L $link ]] || ln -sfn "$ROOT" "$link"

# ansible-test bootstraps its sanity venvs with a get-pip.py from a host that
# cannot be reached here; give it a stand-in under the name it looks for.
pip_version=$("$VENV/bin/python" -c 'import re, ansible_test, pathlib
source = (pathlib.Path(ansible_test.__file__).parent / "_internal/python_requirements.py").read_text()
print(re.search(r"pip=.([0-9.]+).", source).group(1))')
install -D -m 0644 "$ROOT/lab/get_pip_standin.py" "$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"

# Managed by Ansible (opsforge.webstack.nginx); local changes are overwritten.
"""Take one app server out of nginx's upstream, or put it back, with a graceful reload.

    webstack-upstream drain HOST     mark HOST down (refused for the last server in rotation)
    webstack-upstream active HOST    put HOST back
    webstack-upstream status         one line per server: HOST active|drained

The role renders the upstream file with one `server ...;  # HOST` line per app
server and marks a server `down` when /etc/nginx/webstack/drained/HOST exists.
This keeps both in step, so a later run of the role keeps a drained host drained.
Every change is tested with webstack-nginx-check before nginx reloads; the
reload lets old workers finish their requests. Prints "changed" or "unchanged".
"""

import os
import re
import subprocess
import sys
import tempfile

UPSTREAM = "/etc/nginx/webstack/upstream-app.conf"
RELATIVE = "webstack/upstream-app.conf"
DRAINED = "/etc/nginx/webstack/drained"
CHECK = "/usr/local/sbin/webstack-nginx-check"
SERVER = re.compile(r"^(?P<head>server \S+)(?P<params>[^;]*?)(?P<down> down)?;\s*#\s*(?P<host>\S+)\s*$")


def fail(message):
    sys.stderr.write(f"webstack-upstream: {message}\n")
    sys.exit(1)


def read_servers(lines):
    return {m.group("host"): m for m in (SERVER.match(line) for line in lines) if m}


def main(argv):
    if len(argv) == 2 and argv[1] == "status":
        with open(UPSTREAM) as handle:
            for host, match in read_servers(handle.read().splitlines()).items():
                print(host, "drained" if match.group("down") else "active")
        return 0
    if len(argv) != 3 or argv[1] not in ("drain", "active"):
        fail("usage: webstack-upstream drain HOST | active HOST | status")
    state, host = argv[1], argv[2]
    with open(UPSTREAM) as handle:
        lines = handle.read().splitlines()
    servers = read_servers(lines)
    if host not in servers:
        fail(f"'{host}' is not a server of the upstream ({', '.join(servers) or 'none'}): give an inventory name")
    if state == "drain" and not [h for h, m in servers.items() if h != host and not m.group("down")]:
        fail(f"Refusing to drain {host}: it is the last server in rotation and nginx would answer 502 to every request")

    marker = os.path.join(DRAINED, host)
    new_lines = []
    for line in lines:
        match = SERVER.match(line)
        if match and match.group("host") == host:
            down = " down" if state == "drain" else ""
            line = f"{match.group('head')}{match.group('params')}{down};  # {host}"
        new_lines.append(line)
    changed = new_lines != lines or os.path.exists(marker) != (state == "drain")
    if not changed:
        print("unchanged")
        return 0

    with tempfile.NamedTemporaryFile("w", dir=os.path.dirname(UPSTREAM), delete=False) as candidate:
        candidate.write("\n".join(new_lines) + "\n")
    os.chmod(candidate.name, 0o644)
    checked = subprocess.run([CHECK, candidate.name, RELATIVE], capture_output=True, text=True, check=False)
    if checked.returncode != 0:
        os.unlink(candidate.name)
        fail(f"the new upstream does not pass nginx -t, nothing changed: {checked.stderr.strip()}")
    was_drained = os.path.exists(marker)
    set_marker(marker, state == "drain")
    os.replace(candidate.name, UPSTREAM)
    reloaded = subprocess.run(["systemctl", "reload", "nginx"], capture_output=True, text=True, check=False)
    if reloaded.returncode != 0:
        # Put the files back as nginx still runs them, so that the files never claim a state nginx is not in.
        with open(UPSTREAM, "w") as handle:
            handle.write("\n".join(lines) + "\n")
        set_marker(marker, was_drained)
        fail(f"nginx did not reload, nothing changed: {(reloaded.stderr or reloaded.stdout).strip()}")
    print("changed")
    return 0


def set_marker(marker, drained):
    os.makedirs(DRAINED, exist_ok=True)
    if drained:
        with open(marker, "w") as handle:
            handle.write(f"{os.path.basename(marker)} is drained from the nginx upstream (webstack-upstream)\n")
    elif os.path.exists(marker):
        os.unlink(marker)


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""Runs on the PgBouncer host (python3 bouncer_probe.py ACTION, settings as JSON on standard input), prints JSON.

hosts   each database's host, from SHOW DATABASES on the admin console
write   a row written through PgBouncer as shop: the address of the server that committed it ('' on failure)
follow  after the test stops the leader's host: the wall-clock times at which `new` no longer named `old` its
        leader (GET /cluster: detect), answered GET /primary (leader), PgBouncer's `shop` pointed at
        `new_address` (repoint) and a write through PgBouncer was first committed by it (write). Writes start
        every 0.25 s, each on its own connection, so one stuck on the lost leader does not hide the next.
"""

import json
import ssl
import sys
import threading
import time
import urllib.request

import psycopg2

SETTINGS = json.load(sys.stdin)


def hosts():
    user, password = SETTINGS["admin"]
    try:
        conn = psycopg2.connect(
            host="/var/run/postgresql", port=6432, dbname="pgbouncer", user=user, password=password, connect_timeout=3
        )
    except psycopg2.Error:
        return {}
    conn.autocommit = True
    cursor = conn.cursor()
    cursor.execute("SHOW DATABASES")
    names = [column[0] for column in cursor.description]
    rows = [dict(zip(names, row)) for row in cursor.fetchall()]
    conn.close()
    return {row["name"]: row["host"] for row in rows}


def write():
    user, password = SETTINGS["shop"]
    try:
        conn = psycopg2.connect(
            host="127.0.0.1", port=6432, dbname="shop", user=user, password=password, connect_timeout=5
        )
        cursor = conn.cursor()
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS follow_probe (id bigserial PRIMARY KEY, at timestamptz DEFAULT now())"
        )
        cursor.execute("INSERT INTO follow_probe DEFAULT VALUES")
        cursor.execute("SELECT host(inet_server_addr())")
        server = cursor.fetchone()[0]
        conn.commit()
        conn.close()
        return {"server": server}
    except psycopg2.Error as exc:
        return {"server": "", "error": str(exc).strip()}


def leads(url, context):
    try:
        with urllib.request.urlopen(url, timeout=1, context=context) as response:
            return response.status == 200
    except OSError:
        return False


def leader_of(url, context):
    """The leader a member's view of the cluster names ('' for none), or None when the member does not answer."""
    try:
        with urllib.request.urlopen(url, timeout=1, context=context) as response:
            members = json.load(response)["members"]
    except (OSError, ValueError, KeyError):
        return None
    return next((member["name"] for member in members if member.get("role") == "leader"), "")


def follow():
    events = {}
    context = ssl.create_default_context(cafile=SETTINGS["ca"])

    def writer():
        if write()["server"] == SETTINGS["new_address"]:
            events.setdefault("write", time.time())

    deadline = time.time() + SETTINGS["timeout"]
    last_write = 0.0
    while time.time() < deadline and len(events) < 4:
        if "detect" not in events and leader_of(SETTINGS["new_api"] + "/cluster", context) not in (
            None,
            SETTINGS["old"],
        ):
            events["detect"] = time.time()
        if "leader" not in events and leads(SETTINGS["new_api"] + "/primary", context):
            events["leader"] = time.time()
        if "repoint" not in events and hosts().get("shop") == SETTINGS["new_address"]:
            events["repoint"] = time.time()
        if time.time() - last_write >= 0.25:
            threading.Thread(target=writer, daemon=True).start()
            last_write = time.time()
        time.sleep(0.1)
    return events


print(json.dumps({"hosts": hosts, "write": write, "follow": follow}[sys.argv[1]]()))

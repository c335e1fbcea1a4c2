"""Runs on a scenario host (python3 member_writer.py TABLE SECONDS), prints JSON.

Writes one row every 0.05 s into TABLE of the shop database, where libpq's environment points: on a database member
as postgres through the local socket, to whatever the local server is, primary or not; on the PgBouncer host through
PgBouncer (PGHOST, PGPORT, PGUSER, PGPASSWORD). It goes on until SECONDS have passed or /tmp/member_writer.stop exists
and prints the commits the server acknowledged (the row's id, the time the acknowledgement arrived, the address of the
server that committed it: '' over the local socket) and the failed attempts (the time, the SQLSTATE or exception, the
message's first line). The hosts share one kernel clock (containers), so the times of the writers compare.

In synchronous mode a commit waits for the standby (the statement timeout does not end that wait); when the wait is
cancelled, PostgreSQL sends a warning ("canceling the wait for synchronous replication"): committed locally, never
confirmed by a standby. A server that shuts down sends it and drops the connection, so the commit fails for the
writer; a cancel alone would let COMMIT succeed. Either way such a commit is recorded as unconfirmed, with its row,
never as acknowledged.
"""

import json
import os
import sys
import time

import psycopg2

TABLE, SECONDS = sys.argv[1], float(sys.argv[2])
STOP = "/tmp/member_writer.stop"


def cancelled_wait(conn) -> bool:
    """The server warned that it cancelled this commit's wait for a synchronous standby."""
    return conn is not None and any("synchronous replication" in notice for notice in conn.notices)


def main():
    acks, unconfirmed, errors, conn = [], [], [], None
    deadline = time.time() + SECONDS
    while time.time() < deadline and not os.path.exists(STOP):
        row_id = None
        try:
            if conn is None or conn.closed:
                conn = psycopg2.connect(dbname="shop", connect_timeout=2)
            with conn.cursor() as cursor:
                # In the transaction: PgBouncer's transaction pooling ignores a session's settings.
                cursor.execute("SET LOCAL statement_timeout = 2000")
                cursor.execute(f"INSERT INTO {TABLE} DEFAULT VALUES RETURNING id, host(inet_server_addr())")
                row_id, server = cursor.fetchone()
            del conn.notices[:]
            conn.commit()
            if cancelled_wait(conn):
                unconfirmed.append([row_id, time.time()])
            else:
                acks.append([row_id, time.time(), server or ""])
        except psycopg2.Error as exc:
            if row_id is not None and cancelled_wait(conn):
                unconfirmed.append([row_id, time.time()])
            else:
                reason = getattr(exc, "pgcode", None) or type(exc).__name__
                errors.append([time.time(), reason, str(exc).strip().splitlines()[0] if str(exc).strip() else ""])
            if conn is not None:
                conn.close()
            conn = None
        time.sleep(0.05)
    print(json.dumps({"acks": acks, "unconfirmed": unconfirmed, "errors": errors}))


main()

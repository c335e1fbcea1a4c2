"""Runs on the PgBouncer host (python3 writer.py TABLE, shop's password on standard input), prints JSON at the end.

Writes one row at a time into TABLE of the shop database through PgBouncer (127.0.0.1:6432), each as soon as the
last commit came back and 0.01 s passed, until /tmp/writer.stop exists: the ids of the rows whose commit was
acknowledged (each appended to /tmp/writer-TABLE.acks as it comes) and every failed attempt (time and error). A
failed attempt reconnects after 0.1 s.
"""

import json
import os
import sys
import time

import psycopg2

TABLE = sys.argv[1]
STOP = "/tmp/writer.stop"
PASSWORD = sys.stdin.read().strip()


def main():
    acks, errors, conn = [], [], None
    started = time.time()
    with open(f"/tmp/writer-{TABLE}.acks", "w", encoding="utf-8") as record:
        while not os.path.exists(STOP):
            try:
                if conn is None or conn.closed:
                    conn = psycopg2.connect(
                        host="127.0.0.1", port=6432, dbname="shop", user="shop", password=PASSWORD, connect_timeout=5
                    )
                with conn.cursor() as cursor:
                    cursor.execute(f"INSERT INTO {TABLE} DEFAULT VALUES RETURNING id")
                    row_id = cursor.fetchone()[0]
                conn.commit()
                acks.append([row_id, time.time()])
                record.write(f"{row_id}\n")
                record.flush()
                time.sleep(0.01)  # about 100 writes a second: the gaps are measured to 0.01 s
            except psycopg2.Error as exc:
                errors.append([time.time(), (getattr(exc, "pgerror", None) or str(exc)).strip()[:200]])
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.1)
    times = [started] + [at for _row_id, at in acks] + [time.time()]
    gap = max(later - earlier for earlier, later in zip(times, times[1:]))
    print(json.dumps({"acks": [row_id for row_id, _at in acks], "errors": errors, "longest_gap": gap}))


main()

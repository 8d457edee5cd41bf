"""ledger: the WSGI app of doc/BENCH.md B6 and tests/node/dbnode.bats.

GET /write    INSERTs a row (this node's name, a random value): 200 and its id
GET /count    "COUNT MD5": the rows, and the md5 of all of them in id order
GET /where    the database host the app was given (CONFIG_PG_HOST)
GET /health   200 when the database answers and takes writes (not a standby)
GET /_setup   makes the table (run by silver update; idempotent)
Each request opens its own connection (CONFIG_PG_URL, which carries the TLS
settings when the database is on a service node), so a request after a
failover meets the database the instance was set up with, nothing cached.
"""
import os
import socket

import psycopg2

NODE = socket.gethostname()


def connect():
    return psycopg2.connect(os.environ["CONFIG_PG_URL"], connect_timeout=3)


def setup():
    with connect() as db, db.cursor() as cur:
        # two app nodes run this at once: one at a time, or the second
        # CREATE TABLE IF NOT EXISTS can fail on the catalog's unique keys
        cur.execute("SELECT pg_advisory_xact_lock(19)")
        cur.execute("""CREATE TABLE IF NOT EXISTS rows (
                         id bigserial PRIMARY KEY,
                         node text NOT NULL,
                         v text NOT NULL)""")
    return "ready"


def write():
    with connect() as db, db.cursor() as cur:
        cur.execute("INSERT INTO rows (node, v) VALUES (%s, md5(random()::text)) RETURNING id",
                    (NODE,))
        return str(cur.fetchone()[0])


def count():
    with connect() as db, db.cursor() as cur:
        cur.execute("""SELECT count(*), md5(coalesce(string_agg(id || ' ' || node || ' ' || v,
                                                                 E'\\n' ORDER BY id), ''))
                         FROM rows""")
        n, sum_ = cur.fetchone()
        return f"{n} {sum_}"


def health():
    with connect() as db, db.cursor() as cur:
        cur.execute("SELECT pg_is_in_recovery()")
        if cur.fetchone()[0]:
            raise RuntimeError("the database is a standby: it takes no writes")
        return "ok"


ROUTES = {"/write": write, "/count": count, "/health": health, "/_setup": setup,
          "/where": lambda: os.environ.get("CONFIG_PG_HOST", "")}


def application(environ, start_response):
    handler = ROUTES.get(environ.get("PATH_INFO") or "/")
    if environ["REQUEST_METHOD"] != "GET" or handler is None:
        status, body = "404 Not Found", "no such page"
    else:
        try:
            status, body = "200 OK", handler()
        except (psycopg2.Error, RuntimeError) as e:
            status, body = "500 Internal Server Error", str(e).strip()
    data = (body + "\n").encode()
    start_response(status, [("Content-Type", "text/plain"),
                            ("Content-Length", str(len(data)))])
    return [data]

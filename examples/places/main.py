"""places: named points in PostGIS, and what is near a given point.

GET  /near?lon=..&lat=..&km=..   the places within km kilometres, nearest first
POST /places?name=..&lon=..&lat=..  add a place; the request body, if any, is
                                  kept as the place's note in the files area
GET  /_setup                     creates the schema (run by silver update)
GET  /_env                       the CONFIG_* it receives, passwords masked
"""
import json
import os
import re
from urllib.parse import parse_qs

import psycopg2


def connect():
    return psycopg2.connect(
        dbname=os.environ["CONFIG_PG_DBNAME"],
        user=os.environ["CONFIG_PG_USER"],
        password=os.environ["CONFIG_PG_PASSWORD"] or None,
        host=os.environ["CONFIG_PG_HOST"] or None,
        port=os.environ["CONFIG_PG_PORT"] or None)


def setup(environ):
    with connect() as db, db.cursor() as cur:
        cur.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        cur.execute("""CREATE TABLE IF NOT EXISTS places (
                         id serial PRIMARY KEY,
                         name text NOT NULL UNIQUE,
                         geom geography(Point, 4326) NOT NULL)""")
        cur.execute("CREATE INDEX IF NOT EXISTS places_geom ON places USING gist (geom)")
    return "200 OK", {"schema": "ready"}


def env(environ):
    def shown(name, value):
        if "PASSWORD" in name:
            return "********" if value else ""
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1********@", value)
    return "200 OK", {k: shown(k, v) for k, v in sorted(os.environ.items())
                      if k.startswith("CONFIG_")}


def number(q, key, default=None):
    try:
        return float(q[key][0])
    except (KeyError, ValueError):
        if default is None:
            raise ValueError(f"{key} must be a number")
        return default


def near(environ):
    q = parse_qs(environ.get("QUERY_STRING", ""))
    lon, lat, km = number(q, "lon"), number(q, "lat"), number(q, "km", 10)
    with connect() as db, db.cursor() as cur:
        cur.execute("""SELECT name, round(ST_Distance(geom, q.p)::numeric / 1000, 3)
                         FROM places, (SELECT ST_MakePoint(%s, %s)::geography AS p) AS q
                        WHERE ST_DWithin(geom, q.p, %s)
                        ORDER BY ST_Distance(geom, q.p), name""", (lon, lat, km * 1000))
        rows = [{"name": n, "km": float(d)} for n, d in cur.fetchall()]
    return "200 OK", rows


def add(environ):
    q = parse_qs(environ.get("QUERY_STRING", ""))
    name = q.get("name", [""])[0]
    if not re.fullmatch(r"[\w .-]{1,80}", name):
        raise ValueError("name: 1 to 80 letters, digits, spaces, dots or dashes")
    lon, lat = number(q, "lon"), number(q, "lat")
    with connect() as db, db.cursor() as cur:
        cur.execute("INSERT INTO places (name, geom) VALUES (%s, ST_MakePoint(%s, %s)::geography)",
                    (name, lon, lat))
    size = int(environ.get("CONTENT_LENGTH") or 0)
    if size:
        note = environ["wsgi.input"].read(min(size, 1 << 20))
        path = os.path.join(os.environ["CONFIG_FILES"], re.sub(r"\W", "_", name) + ".txt")
        with open(path, "wb") as f:
            f.write(note)
    return "201 Created", {"added": name}


def health(environ):
    with connect() as db, db.cursor() as cur:
        cur.execute("SELECT postgis_version()")
        return "200 OK", {"postgis": cur.fetchone()[0]}


ROUTES = {("GET", "/near"): near, ("POST", "/places"): add,
          ("GET", "/_setup"): setup, ("GET", "/_env"): env,
          ("GET", "/healthz"): health}


def application(environ, start_response):
    key = (environ["REQUEST_METHOD"], environ.get("PATH_INFO") or "/")
    handler = ROUTES.get(key)
    try:
        if handler is None:
            status, result = "404 Not Found", {"error": "no such page"}
        else:
            status, result = handler(environ)
    except ValueError as e:
        status, result = "400 Bad Request", {"error": str(e)}
    except psycopg2.IntegrityError:
        status, result = "409 Conflict", {"error": "that place exists"}
    except psycopg2.Error as e:
        status, result = "500 Internal Server Error", {"error": e.pgerror or str(e)}
    data = (json.dumps(result, indent=1) + "\n").encode()
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(data)))])
    return [data]

"""failsafe: the WSGI app of doc/BENCH.md B3, with good and bad routes.

/ok 5 ms of CPU; /cpu 200 ms of CPU; /big 100 kB; /io 100 ms asleep;
/slow 1 s asleep; /loop never returns (asleep); /spin never returns
(spinning the CPU); /deadlock takes a lock it holds; /segv crashes its
process; /leak keeps 10 MB more each call; /upload reads the body.
"""
import ctypes
import threading
import time

leaked = []
lock = threading.Lock()


def spin(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def upload(environ):
    left = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"]
    n = 0
    while left > 0:
        chunk = body.read(min(left, 65536))
        if not chunk:
            break
        n += len(chunk)
        left -= len(chunk)
    return b"read %d bytes\n" % n


def forever():
    while True:
        time.sleep(3600)


def spin_forever():
    while True:
        pass


def deadlock():
    lock.acquire()
    lock.acquire()


def segv():
    ctypes.string_at(0)


def leak():
    leaked.append(bytearray(10 << 20))  # bytearray() writes its zeros: resident
    return b"leaked %d MB\n" % (10 * len(leaked))


ROUTES = {
    "/ok": lambda e: (spin(0.005), b"ok\n")[1],
    "/cpu": lambda e: (spin(0.2), b"cpu\n")[1],
    "/big": lambda e: b"x" * 102400,
    "/io": lambda e: (time.sleep(0.1), b"io\n")[1],
    "/slow": lambda e: (time.sleep(1), b"slow\n")[1],
    "/loop": lambda e: forever(),
    "/spin": lambda e: spin_forever(),
    "/deadlock": lambda e: deadlock(),
    "/segv": lambda e: segv(),
    "/leak": lambda e: leak(),
    "/upload": upload,
}


def application(environ, start_response):
    route = ROUTES.get(environ.get("PATH_INFO", ""))
    if route is None:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]
    body = route(environ)
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]

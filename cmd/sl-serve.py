#!/usr/bin/python3
"""silverlining — sl-serve: run an app on the laptop, with its production rules.

    sl-serve [--host HOST] [--port PORT] [--config DIR] APPDIR

The app runs in the environment sl-env computes (sl-serve chainloads
through it), loaded by the same loader as on a node. Requests go, as on a
node, to static/ first, then the writable root ($CONFIG_WRITABLE_ROOT/HOST/
then $CONFIG_WRITABLE_ROOT/), then the app, with environ['silverlining.devel']
set. update_fetch runs at start, as internal requests. A change to a .py
file or to app.ini restarts it; an error is shown with the request that
caused it. Python's own HTTP server (Debian's python3, no other package):
threaded, for one developer, never for the internet.

A PHP app (platform = php) runs under PHP's built-in server (php -S, from
php8.2-cli) in the same environment, with the router of
share/silverlining/php/ in front: static/, the writable root, then the
runner or php_root's scripts; a change to a .php file or to app.ini
restarts it.
"""
import argparse
import ctypes
import mimetypes
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import urllib.error
import urllib.request
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.util import setup_testing_defaults

PROG = "sl-serve"
VERSION = "@VERSION@"
USAGE = "sl-serve [--host HOST] [--port PORT] [--config DIR] APPDIR"


def die(code, msg):
    print(f"{PROG}: fatal: {msg}", file=sys.stderr, flush=True)
    sys.exit(code)


def warn(msg):
    print(f"{PROG}: warning: {msg}", file=sys.stderr, flush=True)


def say(msg):
    print(f"{PROG}: {msg}", file=sys.stderr, flush=True)


def beside(*names):
    """A path beside this tool (a build tree) or in the installed layout."""
    here = os.path.dirname(os.path.realpath(__file__))
    for name in names:
        for p in (os.path.join(here, name), os.path.join(here, "..", name)):
            if os.path.exists(p):
                return os.path.realpath(p)
    return None


def app_ini(appdir):
    """app.ini through sl-app: KEY -> list of values."""
    tool = beside("sl-app") or shutil.which("sl-app") or "sl-app"
    try:
        out = subprocess.run([tool, appdir], stdout=subprocess.PIPE, text=True)
    except FileNotFoundError:
        die(127, "sl-app not found beside sl-serve or on PATH")
    if out.returncode:
        sys.exit(out.returncode)
    keys = {}
    for line in out.stdout.splitlines():
        k, _, v = line.partition("=")
        keys.setdefault(k, []).append(v)
    return keys


class Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class Handler(WSGIRequestHandler):
    def log_message(self, fmt, *args):
        sys.stderr.write(f"{PROG}: {self.address_string()} {fmt % args}\n")


def file_response(path, start_response):
    ctype = mimetypes.guess_type(path)[0] or "application/octet-stream"
    size = os.path.getsize(path)
    start_response("200 OK", [("Content-Type", ctype), ("Content-Length", str(size))])
    with open(path, "rb") as f:
        return [f.read()]


def under(root, path):
    """ROOT/PATH when it is a file inside ROOT, else None."""
    if not root:
        return None
    full = os.path.realpath(os.path.join(root, path.lstrip("/")))
    if full != root and not full.startswith(root.rstrip("/") + "/"):
        return None
    return full if os.path.isfile(full) else None


def front(app, appdir):
    static = os.path.realpath(os.path.join(appdir, "static"))
    writable = os.environ.get("CONFIG_WRITABLE_ROOT")
    writable = os.path.realpath(writable) if writable else None

    def serve(environ, start_response):
        path = environ.get("PATH_INFO") or "/"
        host = (environ.get("HTTP_HOST") or "localhost").split(":")[0].lower()
        if environ["REQUEST_METHOD"] in ("GET", "HEAD"):
            roots = [static]
            if writable:
                roots += [os.path.join(writable, host), writable]
            for root in roots:
                f = under(root, path)
                if f:
                    return file_response(f, start_response)
        environ["silverlining.devel"] = True
        # what nginx sets or strips on a node, nobody outside sets here
        environ.pop("HTTP_X_SILVERLINING_UPDATE", None)
        environ.pop("HTTP_X_SILVERLINING_SCRIPT_NAME", None)
        environ.pop("HTTP_X_SILVERLINING_REMOTE_ADDR", None)
        environ.pop("HTTP_X_FORWARDED_PROTO", None)	# this server speaks plain HTTP
        try:
            result = app(environ, start_response)
            try:
                return list(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
        except Exception:
            say(f"error in {environ['REQUEST_METHOD']} {path}:")
            traceback.print_exc()
            body = b"500 Internal Server Error: the traceback is in the terminal\n"
            start_response("500 Internal Server Error",
                           [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))],
                           sys.exc_info())
            return [body]
    return serve


def update_fetch(appdir, entries, request):
    """Each entry once, as on a node before a switch: internal requests, scripts.
    REQUEST(entry) makes the internal request: (status line or None, body)."""
    for entry in entries:
        if entry.startswith("script:"):
            cmd = entry[len("script:"):]
            rc = subprocess.run(cmd, shell=True, cwd=appdir).returncode
            say(f"update_fetch {entry}: exit status {rc}")
            if rc:
                warn(f"update_fetch {entry} failed; a deploy would stop here")
            continue
        status, body = request(entry)
        say(f"update_fetch {entry}: {status or '?'}")
        sys.stderr.write(body.decode("utf-8", "replace"))
        if not status or not status.startswith("2"):
            warn(f"update_fetch {entry} failed; a deploy would stop here")


def wsgi_request(app):
    """An internal request to the WSGI app APP, called directly."""
    def request(entry):
        environ = {}
        setup_testing_defaults(environ)
        environ.update(PATH_INFO=entry.split("?")[0], QUERY_STRING=entry.partition("?")[2],
                       HTTP_X_SILVERLINING_UPDATE="1", HTTP_HOST="localhost")
        environ["silverlining.devel"] = True
        status = []
        try:
            body = b"".join(app(environ, lambda s, h, e=None: status.append(s)))
        except Exception:
            traceback.print_exc()
            status, body = ["500 exception"], b""
        return (status[0] if status else None), body
    return request


def http_request(base, token):
    """An internal request to PHP's server at BASE, marked by TOKEN (the router's)."""
    def request(entry):
        req = urllib.request.Request(base + entry, headers={"X-Silverlining-Update": token,
                                                            "Host": "localhost"})
        try:
            with urllib.request.urlopen(req, timeout=600) as r:
                return f"{r.status} {r.reason}", r.read()
        except urllib.error.HTTPError as e:
            return f"{e.code} {e.reason}", e.read()
        except OSError as e:
            return None, f"{e}\n".encode()
    return request


def stamps(appdir, suffix):
    """The mtimes of APPDIR's SUFFIX files and of its app.ini."""
    seen = {}
    for top, dirs, files in os.walk(appdir):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in ("silver-logs", "__pycache__")]
        for f in files:
            if f.endswith(suffix) or (f == "app.ini" and top == appdir):
                p = os.path.join(top, f)
                try:
                    seen[p] = os.stat(p).st_mtime_ns
                except OSError:
                    pass
    return seen


def watch(appdir, argv, suffix=".py", child=None, before=None):
    """Restart (through sl-env again) when a SUFFIX file or app.ini changes
    from BEFORE (their stamps now by default), after stopping CHILD (a
    Popen), whose own exit ends sl-serve."""
    if before is None:
        before = stamps(appdir, suffix)
    while True:
        time.sleep(0.5)
        if child and child.poll() is not None:
            die(111, f"php -S exited with status {child.returncode}")
        now = stamps(appdir, suffix)
        if now != before:
            changed = sorted(set(now.items()) ^ set(before.items()))
            say(f"{os.path.relpath(changed[0][0], appdir)} changed: restarting")
            if child:
                child.terminate()
                child.wait()
            os.execv(sys.executable, [sys.executable, os.path.realpath(__file__)] + argv)


def serve_php(a, appdir, keys, argv):
    """PHP's built-in server, our router in front of the app (share/silverlining/php/)."""
    router = beside("share/silverlining/php/router.php") or die(127, "router.php not found beside sl-serve")
    php = shutil.which("php") or die(127, "php not found: install php8.2-cli")
    if "runner" not in keys and "php_root" not in keys:
        die(100, f"{a.appdir}/app.ini names no runner and no php_root")
    # the port first: nothing (update_fetch's migrations) runs when it is taken
    try:
        with socket.socket(socket.AF_INET6 if ":" in a.host else socket.AF_INET) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((a.host, a.port))
    except OSError as e:
        die(111, f"unable to listen on {a.host}:{a.port}: {e.strerror}")
    token = secrets.token_hex(16)
    env = dict(os.environ, SL_SERVE_APP=appdir, SL_SERVE_TOKEN=token)
    if "runner" in keys:
        env["SL_SERVE_RUNNER"] = keys["runner"][0]
    else:
        env["SL_SERVE_PHP_ROOT"] = keys["php_root"][0]
    os.chdir(appdir)
    before = stamps(appdir, ".php")	# a change from now on restarts, even during update_fetch
    hostport = f"[{a.host}]:{a.port}" if ":" in a.host else f"{a.host}:{a.port}"
    # php -S dies with sl-serve: stopped by the finally below on SIGTERM or
    # SIGHUP, and by the kernel (PR_SET_PDEATHSIG) when sl-serve is killed
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(0))
    libc = ctypes.CDLL(None, use_errno=True)
    child = subprocess.Popen([php, "-d", "log_errors=1",
                              "-S", hostport, "-t", appdir, router], env=env, stdin=subprocess.DEVNULL,
                             preexec_fn=lambda: libc.prctl(1, signal.SIGTERM))
    try:
        for _ in range(100):
            if child.poll() is not None:
                die(111, f"php -S exited with status {child.returncode}")
            try:
                socket.create_connection((a.host, a.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        update_fetch(appdir, keys.get("update_fetch", []), http_request(f"http://{hostport}", token))
        say(f"serving {keys['app_name'][0]} at http://{hostport}/ (Ctrl-C stops)")
        watch(appdir, argv, ".php", child, before)
    except KeyboardInterrupt:
        return 0
    finally:
        if child.poll() is None:
            child.terminate()
            child.wait()


def port(text):
    n = int(text)
    if not 1 <= n <= 65535:
        raise ValueError(text)
    return n


def main():
    p = argparse.ArgumentParser(prog=PROG, usage=USAGE, add_help=False)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=port, default=8080)
    p.add_argument("--config")
    p.add_argument("--help", "-h", action="store_true")
    p.add_argument("--version", action="store_true")
    p.add_argument("appdir", nargs="?")
    p.error = lambda m: (print(f"{PROG}: usage: {USAGE}", file=sys.stderr), sys.exit(100))
    a = p.parse_args()
    if a.help:
        print(f"usage: {USAGE}")
        return 0
    if a.version:
        print(f"{PROG} {VERSION}")
        return 0
    if not a.appdir:
        p.error("")
    argv = sys.argv[1:]
    if os.environ.get("SL_SERVE_CHILD") != "1":
        # the app's environment is sl-env's, exactly: chainload through it
        env_tool = beside("sl-env") or shutil.which("sl-env") or die(127, "sl-env not found")
        os.environ["SL_SERVE_CHILD"] = "1"
        cmd = [env_tool] + (["--config", a.config] if a.config else []) + \
              [a.appdir, "--", sys.executable, os.path.realpath(__file__)] + argv
        os.execv(env_tool, cmd)
    os.environ.pop("SL_SERVE_CHILD", None)	# the app's environment is sl-env's alone
    appdir = os.path.realpath(a.appdir)
    # a restart happens after the chdir below: it must name the same directories
    absolute = {a.appdir: appdir}
    if a.config:
        absolute[a.config] = os.path.realpath(a.config)
    argv = [absolute.get(x, x) for x in argv]
    keys = app_ini(appdir)
    if keys.get("platform", ["python"])[0] == "php":
        return serve_php(a, appdir, keys, argv)
    if "runner" not in keys:
        die(100, f"{a.appdir}/app.ini names no runner")
    loader = beside("share/silverlining/python/silverlining_runner.py")
    if not loader:
        die(127, "silverlining_runner.py not found beside sl-serve")
    sys.path.insert(0, os.path.dirname(loader))
    from silverlining_runner import load
    # the port first: nothing (update_fetch's migrations) runs when it is taken
    holder = {}

    def routed(environ, start_response):
        return holder["app"](environ, start_response)
    try:
        server = make_server(a.host, a.port, routed, server_class=Server, handler_class=Handler)
    except OSError as e:
        die(111, f"unable to listen on {a.host}:{a.port}: {e.strerror}")
    os.chdir(appdir)	# as uWSGI on a node
    threading.Thread(target=watch, args=(appdir, argv), daemon=True).start()
    try:
        app = load(appdir, keys["runner"][0])
    except Exception:
        say("the app failed to load; fix it and save: it restarts")
        traceback.print_exc()
        while True:
            time.sleep(3600)
    holder["app"] = front(app, appdir)
    update_fetch(appdir, keys.get("update_fetch", []), wsgi_request(app))
    say(f"serving {keys['app_name'][0]} at http://{a.host}:{a.port}/ (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())

"""silverlining's loader for WSGI apps on a node (and under silver serve).

uWSGI loads the file sl-activate writes for each instance, which calls
load(); load() puts the app's lib/python/ on the path, runs its runner
(FILE.py, or FILE.py#NAME) and returns its WSGI callable wrapped so that:

- a request nginx sends carries the matched path prefix of the location
  in X-Silverlining-Script-Name: it becomes SCRIPT_NAME, and leaves
  PATH_INFO;
- an internal request (update_fetch, the health check) carries
  X-Silverlining-Update: 1, which nginx strips from every outside request:
  the app sees environ['silverlining.update'] = True;
- a request that reached nginx over HTTPS carries X-Forwarded-Proto:
  https, which nginx sets from its own $scheme on every request (never
  the client's): the app sees wsgi.url_scheme 'https' and HTTPS 'on';
  else 'http' and no HTTPS;
- a request nginx sends carries X-Silverlining-Remote-Addr, nginx's
  $remote_addr (the client's address; behind a balancer the node trusts,
  the one the balancer saw): it becomes REMOTE_ADDR, which uWSGI cannot
  know on its Unix socket. nginx sets it on every request, never the
  client's.
"""
import os
import runpy
import sys


def load(instance_dir, runner):
    path, _, name = runner.partition("#")
    name = name or "application"
    lib = os.path.join(instance_dir, "lib", "python")
    for p in (lib, instance_dir):
        if p not in sys.path:
            sys.path.insert(0, p)
    namespace = runpy.run_path(os.path.join(instance_dir, path), run_name="__silverlining__")
    try:
        app = namespace[name]
    except KeyError:
        raise RuntimeError(f"{runner}: no WSGI callable named {name!r}") from None

    def application(environ, start_response):
        environ["silverlining.update"] = environ.pop("HTTP_X_SILVERLINING_UPDATE", "") == "1"
        remote = environ.pop("HTTP_X_SILVERLINING_REMOTE_ADDR", "")
        if remote:
            environ["REMOTE_ADDR"] = remote
        if environ.get("HTTP_X_FORWARDED_PROTO") == "https":
            environ["wsgi.url_scheme"] = "https"
            environ["HTTPS"] = "on"
        else:
            environ["wsgi.url_scheme"] = "http"
            environ.pop("HTTPS", None)
        script = environ.pop("HTTP_X_SILVERLINING_SCRIPT_NAME", "")
        if script:
            path_info = environ.get("PATH_INFO", "")
            if path_info.startswith(script):
                path_info = path_info[len(script):]
            environ["SCRIPT_NAME"] = script
            environ["PATH_INFO"] = path_info
        return app(environ, start_response)

    return application

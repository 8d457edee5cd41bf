"""hello: a WSGI app for silverlining.

It shows the instance serving it, and at /_update the environment every
process of the app receives (silver update runs it on the new instance
before it goes live).
"""
import html
import os
import re


def page(environ):
    name = os.environ.get("SILVER_INSTANCE_NAME", "unknown")
    where = "production" if os.environ.get("SILVER_VERSION", "").startswith(
        "silverlining/") else "development"
    body = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>hello</title>
<link rel="stylesheet" href="{html.escape(environ.get('SCRIPT_NAME', ''))}/style.css"></head>
<body><h1>Hello from silverlining</h1>
<p>Instance <code>{html.escape(name)}</code>, running in {where}.</p>
</body></html>
"""
    return "200 OK", "text/html; charset=utf-8", body


def shown(name, value):
    """A value as a deploy log may show it: never a password."""
    if "PASSWORD" in name:
        return "********" if value else ""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1********@", value)


def update(environ):
    """What silver update shows: the environment, and whether this request
    is an internal one (update_fetch) or came from outside."""
    lines = sorted(f"{k}={shown(k, v)}" for k, v in os.environ.items()
                   if k.startswith(("SILVER_", "CONFIG_")) or k == "TEMP")
    lines.append(f"silverlining.update={bool(environ.get('silverlining.update'))}")
    lines.append(f"SCRIPT_NAME={environ.get('SCRIPT_NAME', '')}")
    return "200 OK", "text/plain; charset=utf-8", "\n".join(lines) + "\n"


def health(environ):
    return "200 OK", "text/plain", "ok\n"


ROUTES = {"/": page, "/_update": update, "/healthz": health}


def application(environ, start_response):
    handler = ROUTES.get(environ.get("PATH_INFO") or "/")
    if handler is None:
        status, ctype, body = "404 Not Found", "text/plain", "not found\n"
    else:
        status, ctype, body = handler(environ)
    data = body.encode("utf-8")
    start_response(status, [("Content-Type", ctype),
                            ("Content-Length", str(len(data)))])
    return [data]

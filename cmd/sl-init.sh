#!/bin/bash
# silverlining — sl-init: a new app layout: app.ini, a runner, static/, lib/python/.
#
# Never overwrites an existing app.ini; the other files only with -f.
set -u
umask 022

VERSION=@VERSION@
prog=sl-init
USAGE='sl-init [-f] DIR'
# @PRELUDE@


force=
case ${1:-} in
-h|--help) printf 'usage: %s\n' "$USAGE" || exit 111; exit 0 ;;
--version) printf 'sl-init %s\n' "$VERSION" || exit 111; exit 0 ;;
-f) force=1; shift ;;
-*) usage ;;
esac
[ $# -eq 1 ] || usage
dir=${1%/}
[ -n "$dir" ] || dir=/

# app_name from the directory's name: lowercase, other characters as dashes
name=$(basename -- "$(realpath -m -- "$dir")" |
	tr 'A-Z_ .' 'a-z---' | tr -cd 'a-z0-9-' | sed 's/^[^a-z]*//' | cut -c1-31 | sed 's/-*$//')
# the rule for app names is libsl's (sl-app --name checks it)
[ -n "$name" ] && sl-app --name "$name" 2>/dev/null ||
	die 100 "no app name can be made from '$dir': give a directory named like an app (my-blog)"
[ -e "$dir/app.ini" ] && die 100 "$dir/app.ini exists: init never overwrites it"
if [ -z "$force" ]; then
	for f in main.py README static/style.css lib/python/README; do
		[ -e "$dir/$f" ] && die 100 "$dir/$f exists: use -f to overwrite the files other than app.ini"
	done
fi
mkdir -p "$dir/static" "$dir/lib/python" || die 111 "unable to make $dir"

write() { # FILE: stdin into DIR/FILE
	cat > "$dir/$1.new" && mv "$dir/$1.new" "$dir/$1" || die 111 "unable to write $dir/$1"
}

write app.ini <<EOF
; $name: a silverlining app (man 7 silver and man sl-app tell the keys).
[production]
app_name = $name
; the WSGI app: the module-level name "application" of main.py
runner = main.py
; platform = python
; where "silver update ." puts it when no location is given
; default_location = $name.example.com
; fetched on the new instance before it goes live; any failure stops the deploy
; update_fetch =
;     /setup
;     script:bin/migrate
; must answer 2xx before the switch (default: / below 500)
; health_check = /healthz
; services: the app gets CONFIG_* variables, never configures them
; service.postgis =
; service.postgresql =
; service.mysql =
; service.files =
; service.writable_root =
; Debian packages for binary libraries, one a line
; packages =
;     python3-lxml
; config.required = false
; config.default = config
; config.template = config-template
; config.checker = bin/check-config
; processes = 2
; threads = 1
; timeout = 30
; memory_limit = 256
EOF

write main.py <<'EOF'
"""The app's WSGI entry point: silverlining calls `application`."""
import os


def application(environ, start_response):
    where = os.environ.get("SILVER_VERSION", "?")
    body = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{os.environ.get("SILVER_APP_NAME", "app")}</title>
<link rel="stylesheet" href="{environ.get('SCRIPT_NAME', '')}/style.css"></head>
<body><h1>It works</h1><p>Served by {where}.</p></body></html>
""".encode()
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                              ("Content-Length", str(len(body)))])
    return [body]
EOF

write static/style.css <<'EOF'
body { font-family: sans-serif; max-width: 40em; margin: 3em auto; }
EOF

write lib/python/README <<'EOF'
Pure-Python libraries this app vendors go here, for example:

    pip install --target lib/python SOME-LIBRARY

silverlining puts this directory on the app's path, on the laptop and on
nodes. Libraries with binary parts come from Debian: name their packages
in app.ini's `packages`.
EOF

write README <<EOF
$name
$(printf '%s' "$name" | sed 's/./=/g')

A silverlining app.

    silver serve .                       # run it here, with the production environment
    sl-env . -- python3 -m pytest        # test it in that environment
    silver update . $name.example.com    # put it on a node, behind a health check
    silver activate $name.example.com prev   # roll back

app.ini says what the app needs; main.py holds the WSGI app; static/ is
served before the app; lib/python/ holds vendored libraries.
EOF
printf '%s\n' "$dir" || exit 111

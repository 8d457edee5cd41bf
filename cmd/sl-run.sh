#!/bin/bash
# silverlining — sl-run: run a script of the instance serving a location, on
# the node, in the app's environment, as the app's user (silver run).
#
#   sl-run [--user app|root] [--files DIR] LOCATION SCRIPT [ARG...]
#   sl-run [--user app|root] --receive LOCATION
#                         a tar on stdin unpacked into a new directory, whose
#                         path is printed: silver run's uploaded arguments
#
# SCRIPT is an absolute path, a path inside the instance, or a name looked
# for in the instance's bin/, at its top, then on PATH. Its exit status is
# sl-run's. --files DIR (one --receive made) is removed when SCRIPT ends.
set -u
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH

VERSION=@VERSION@
prog=sl-run
USAGE='sl-run [--user app|root] [--files DIR] LOCATION SCRIPT [ARG...] | sl-run [--user app|root] --receive LOCATION'
# @PRELUDE@
ROOT=${SL_ROOT:-/var/lib/silverlining}


as=app files= receive=
while [ $# -gt 0 ]; do
	case $1 in
	-h|--help) printf 'usage: %s\n' "$USAGE" || exit 111; exit 0 ;;
	--version) printf 'sl-run %s\n' "$VERSION" || exit 111; exit 0 ;;
	--user) [ $# -ge 2 ] || usage; as=$2; shift 2 ;;
	--files) [ $# -ge 2 ] || usage; files=$2; shift 2 ;;
	--receive) receive=1; shift ;;
	--) shift; break ;;
	-*) printf '%s: fatal: unknown option %s\n' "$prog" "$1" >&2; usage ;;
	*) break ;;
	esac
done
case $as in app|root) ;; *) die 100 "--user $as: app or root" ;; esac
if [ -n "$receive" ]; then
	[ $# -eq 1 ] && [ -z "$files" ] || usage
else
	[ $# -ge 2 ] || usage
fi

inst=$(sl-route -q "$1") || { rc=$?; [ $rc = 1 ] && die 100 "nothing is deployed at $1"; exit $rc; }
dir=$ROOT/instances/$inst
app=${inst%.*}
user=root
[ "$as" = app ] && { user=$(sl-app --user "$app") || exit; }

# as the chosen user: the app's own when --user app
runas=()
[ "$user" = root ] || runas=(runuser -u "$user" --)

if [ -n "$receive" ]; then
	install -d -m 755 "$ROOT/tmp" || exit 111
	# what a run that never came left behind, a day on
	find "$ROOT/tmp" -maxdepth 1 -name 'run.*' -mmin +1440 -exec rm -rf {} + 2>/dev/null
	f=$(mktemp -d "$ROOT/tmp/run.XXXXXXXX") || die 111 "unable to make a directory for the files"
	chown "$user:" "$f" && chmod 700 "$f" || { rm -rf "$f"; exit 111; }
	# unpacked by the user who will read them: nothing lands outside
	if ! "${runas[@]}" tar -x -C "$f" --no-same-owner --no-same-permissions; then
		rm -rf "$f"
		die 100 "the files sent did not unpack"
	fi
	printf '%s\n' "$f"
	exit 0
fi

if [ -n "$files" ]; then
	case $files in
	"$ROOT"/tmp/run.*) [ -d "$files" ] && [ ! -L "$files" ] || die 100 "--files $files: no such directory" ;;
	*) die 100 "--files $files: not a directory sl-run --receive made" ;;
	esac
	trap 'rm -rf -- "$files"' EXIT
	trap 'interrupted=1' INT TERM HUP	# the script gets them first; its end removes FILES
fi

script=$2
shift 2
case $script in
/*) path=$script ;;
*/*) path=$dir/$script ;;
*)
	if [ -e "$dir/bin/$script" ]; then path=$dir/bin/$script
	elif [ -e "$dir/$script" ]; then path=$dir/$script
	else path=$(type -P -- "$script") || path=
	fi ;;
esac
[ -n "$path" ] && [ -e "$path" ] || die 127 "$script: not found in $inst (bin/, its top, or PATH)"
[ -d "$path" ] && die 126 "$script: a directory"
cmd=("$path")
if [ ! -x "$path" ]; then
	case $path in
	*.py) cmd=(python3 "$path") ;;
	*) die 126 "$script: not executable (chmod +x, or name it .py)" ;;
	esac
fi

# the app's own code and libraries importable, as under uWSGI; for the
# app's user a HOME it may write (runuser sets the account's, which it may not)
export PYTHONPATH=$dir/lib/python:$dir${PYTHONPATH:+:$PYTHONPATH}
home=()
[ "$user" != root ] && [ -d "$ROOT/tmp/$inst" ] && home=(env "HOME=$ROOT/tmp/$inst")
cd "$dir" || exit 111
# without FILES to remove after it, the script takes sl-run's place
[ -n "$files" ] || exec "${runas[@]}" "${home[@]}" sl-env --node "$dir" -- "${cmd[@]}" "$@"
"${runas[@]}" "${home[@]}" sl-env --node "$dir" -- "${cmd[@]}" "$@"

# silverlining — what every bats suite loads first: `load ../lib/common`.
#
# Puts the build's bin/ first on PATH, gives each test its own HOME (so
# ~/.silverlining.conf and ~/.silverlining/secret are the test's own), and
# loads bats-support and bats-assert from Debian's packages.

TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
export TOP
PATH=$TOP/bin:$PATH
export PATH

load /usr/lib/bats/bats-support/load
load /usr/lib/bats/bats-assert/load

common_setup() {
	export HOME=$BATS_TEST_TMPDIR/home
	mkdir -p "$HOME"
	unset TEMP
	# values a developer's shell may carry must not leak into results
	for v in $(env | sed -n 's/^\(SILVER_[A-Z_]*\|CONFIG_[A-Z0-9_]*\|SL_[A-Z_]*\)=.*/\1/p'); do
		case $v in SL_TEST_*|SL_LOCAL|SL_CACHE) continue ;; esac
		unset "$v"
	done
}

# app DIR [LINES...]: an app directory whose app.ini holds LINES.
app() {
	local dir=$1
	shift
	mkdir -p "$dir"
	printf '%s\n' "$@" > "$dir/app.ini"
}

# devel_conf LINES...: the test's ~/.silverlining.conf.
devel_conf() {
	printf '%s\n' "$@" > "$HOME/.silverlining.conf"
}

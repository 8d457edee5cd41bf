#!/usr/bin/env bats
# The layout shows the architecture: the tools' sources in cmd/ (one file
# each, named by the tool, its suffix its language), what is installed
# under /usr/share in share/ as it is installed, nothing executable at the
# top, and no document cited that the project does not carry. Read from
# the tree itself (no git: the package build runs this suite in a copy).
bats_require_minimum_version 1.5.0

load ../lib/common

setup() {
	common_setup
	cd "$TOP" || exit 1
}

@test "the top holds folders, the Makefile, the README and the licence, and nothing executable" {
	for f in *; do
		[ -d "$f" ] && continue
		case $f in Makefile|README|LICENSE) ;; *) fail "$f at the top: it belongs in a folder" ;; esac
		[ ! -x "$f" ] || fail "$f at the top is executable"
	done
}

@test "every tool is built from one file in cmd/ (services/ for the service mains), and cmd/ holds only tools" {
	for t in bin/*; do
		t=${t#bin/}
		srcs=$(ls cmd/"$t".c cmd/"$t".sh cmd/"$t".py services/"$t".c 2>/dev/null | wc -l)
		[ "$srcs" -eq 1 ] || fail "$t is built from $srcs files of cmd/ and services/"
	done
	for f in cmd/*; do
		n=${f#cmd/}
		[ "$n" = prelude.sh ] && continue
		[ -x "bin/${n%.*}" ] || fail "$f builds no tool in bin/"
	done
}

@test "the shell tools share the prelude: none defines die or usage of its own but silver's verb list" {
	run grep -nE '^(die|warn|usage)\(\)' cmd/*.sh
	refute_line --regexp '^cmd/sl-'
	refute_line --regexp '^cmd/silver\.sh:[0-9]+:(die|warn)'
	for t in cmd/*.sh; do
		[ "$t" = cmd/prelude.sh ] && continue
		grep -qx '# @PRELUDE@' "$t" || fail "$t does not take the prelude"
		grep -q "^die() {" "bin/$(basename "$t" .sh)" || fail "bin/ $t was built without the prelude"
	done
}

@test "share/ is laid out as it is installed: the same relative path works from bin/ and /usr/bin" {
	for f in silverlining/setup-node silverlining/repack-deb \
		silverlining/python/silverlining_runner.py silverlining/pages/not-found.html \
		silverlining/pages/disabled.html bash-completion/completions/silver \
		silverlining/server-files/etc/systemd/system/silverlining-instance@.service; do
		[ -f "share/$f" ] || fail "share/$f is missing"
	done
	run -0 grep -rn 'share/silverlining/setup-node' cmd/sl-provision.c
	run -0 grep -n 'share/silverlining/python/silverlining_runner.py' cmd/sl-serve.py
}

@test "the licence file is the one debian/copyright names" {
	run -0 grep -x 'License: GPL-2+' debian/copyright
	run -0 grep -E '^ +Version 2, June 1991$' LICENSE
	run -0 grep -c 'GNU GENERAL PUBLIC LICENSE' LICENSE
}

# Every document (a name ending in .md) a file of the project cites exists in the project: by its
# path from the top, beside the citing file, or in doc/.
@test "no file cites a document the project does not carry" {
	missing=
	while IFS=: read -r file cited; do
		case $cited in
		*/*) [ -f "$cited" ] || [ -f "$(dirname "$file")/$cited" ] || missing+="$file: $cited"$'\n' ;;
		*) [ -f "doc/$cited" ] || [ -f "$(dirname "$file")/$cited" ] || missing+="$file: $cited"$'\n' ;;
		esac
	done < <(grep -rIoE --exclude-dir=.git --exclude-dir=build --exclude-dir=bin \
		--exclude-dir=bin-asan --exclude-dir=corpus --exclude-dir=tmp \
		'[A-Za-z0-9_./-]*[A-Z][A-Za-z0-9_-]*\.md\b' . | sed 's|^\./||' | sort -u)
	[ -z "$missing" ] || fail "cited but not in the project:"$'\n'"$missing"
}

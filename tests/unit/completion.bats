#!/usr/bin/env bats
# silverlining — the bash completion of silver (share/bash-completion/completions/silver): verbs,
# options, nodes from known_hosts and local nodes, app directories.
bats_require_minimum_version 1.5.0
load ../lib/common

setup() {
	common_setup
	export SL_LOCAL=$BATS_TEST_TMPDIR/local	# no local nodes unless a test makes some
	# shellcheck source=../../share/bash-completion/completions/silver
	source "$TOP/share/bash-completion/completions/silver"
	W=$BATS_TEST_TMPDIR/work
	mkdir -p "$W" "$HOME/.ssh"
	cd "$W"
	cat > "$HOME/.ssh/known_hosts" <<-'EOF'
	# a comment, then plain, aliased, port and hashed entries
	node1.example.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA
	node2.example.org,192.0.2.7 ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHA
	[127.0.0.1]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB
	|1|F1E1KeoE/eEWhi10WpGv4OdiO6Y=|3988QV0VE8wmZL7suNrYQLITLCg= ssh-ed25519 AAAAC3
	@cert-authority *.example.net ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC
	@revoked revoked.example.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAID
	node1.example.org ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ

	EOF
	app blog '[production]' 'app_name = blog' 'default_location = blog.example.org'
	app examples/hello '[production]' 'app_name = hello'
	mkdir notes
	touch blog.tar.gz
}

# tab LINE: what TAB offers at the end of LINE, sorted, one per line. The
# words are split at blanks, as bash splits the lines these tests type.
tab() {
	local line=$1
	COMP_LINE=$line
	COMP_POINT=${#line}
	read -ra COMP_WORDS <<<"$line"
	[[ $line == *' ' ]] && COMP_WORDS+=('')
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	_silver "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
	((${#COMPREPLY[@]} == 0)) || printf '%s\n' "${COMPREPLY[@]}" | LC_ALL=C sort
}

# words WORD...: the expected output of tab
words() {
	printf '%s\n' "$@" | LC_ALL=C sort
}

# the verbs silver --help lists
help_verbs() {
	silver --help | sed -n '/^verbs:$/,/^$/s/^  \([a-z][a-z0-9-]*\) .*/\1/p' | LC_ALL=C sort
}

@test "the verbs are those silver --help lists, after the global options too" {
	verbs=$(help_verbs)
	grep -qx update <<<"$verbs"
	grep -qx setup-node <<<"$verbs"
	[ "$(wc -l <<<"$verbs")" -ge 18 ]
	run -0 tab 'silver '
	assert_output "$verbs"
	run -0 tab 'silver -y -q '
	assert_output "$verbs"
	run -0 tab 'silver --verbose -- '
	assert_output "$verbs"
	run -0 tab 'silver up'
	assert_output update
	run -0 tab 'silver -y cl'
	assert_output "$(words clean-node clear)"
}

@test "the verbs come from the silver being typed, not from a list" {
	mkdir -p fake
	cat > fake/silver <<-'SH'
	#!/bin/sh
	[ "$1" = --help ] || exit 100
	printf 'usage: silver VERB\n\nverbs:\n  alpha          the first\n  beta-two       the second\n\nmore text\n  gamma          not a verb\n'
	SH
	chmod 755 fake/silver
	run -0 tab 'fake/silver '
	assert_output "$(words alpha beta-two)"
	# a silver that is not there offers nothing, and says nothing
	run -0 --separate-stderr tab 'nowhere/silver '
	assert_output ''
	assert_equal "$stderr" ''
}

@test "every verb of silver --help is one the completion knows" {
	_silver_words=() _silver_verb_at=0
	for v in $(help_verbs); do
		_silver_spec "$v" || fail "share/bash-completion/completions/silver does not know the verb $v"
	done
	run -1 _silver_spec no-such-verb
}

@test "every option the completion offers is documented in a man page" {
	_silver_words=() _silver_verb_at=0
	pages=$(for p in "$TOP"/man/*.1; do mandoc -Tascii "$p" | col -b; done)
	missing=
	for v in $(help_verbs) run create-config diff; do
		_silver_spec "$v"
		for o in $_silver_opts; do
			grep -q -e "$o\b" <<<"$pages" || missing+=" $v:$o"
		done
	done
	[ -z "$missing" ] || fail "options in no page of man/:$missing"
}

@test "the global options" {
	run -0 tab 'silver -'
	assert_output "$(words -y -q -v --yes --quiet --verbose --help --version)"
	run -0 tab 'silver --vers'
	assert_output --version
}

@test "the options of update, of logs, and of a verb that takes none" {
	run -0 tab 'silver update -'
	assert_output "$(words --node --nodeset -i --identity --timeout --accept-new --rolling --skip --clear --config --name \
		--acme-directory --acme-staging --acme-email --hsts --no-hsts)"
	run -0 tab 'silver -y update --c'
	assert_output "$(words --clear --config)"
	run -0 tab 'silver activate --acme-'
	assert_output "$(words --acme-directory --acme-staging --acme-email)"
	run -0 tab 'silver renew-certs -'
	assert_output "$(words --node --nodeset -i --identity --timeout --accept-new --force)"
	run -0 tab 'silver logs -'
	assert_output "$(words --node --nodeset -i --identity --timeout --accept-new -f)"
	run -0 tab 'silver run --'
	assert_output "$(words --node --user --interactive --identity --timeout --accept-new)"
	run -0 tab 'silver env -'
	assert_output "$(words -0 --config --node)"
	run -0 tab 'silver list-nodes -'
	assert_output ''
}

@test "options come before operands: none is offered after one" {
	run -0 tab 'silver update blog -'
	assert_output ''
	run -0 tab 'silver deactivate --keep-prev blog.example.org --'
	assert_output ''
}

@test "nodes come from known_hosts: plain names and [host]:port, never a hashed, revoked or wildcard entry" {
	nodes=$(words node1.example.org node2.example.org 192.0.2.7 127.0.0.1:2222)
	run -0 tab 'silver update --node '
	assert_output "$nodes"
	run -0 tab 'silver setup-node '
	assert_output "$nodes"
	run -0 tab 'silver query '
	assert_output "$nodes"
	run -0 tab 'silver clean-node -n '
	assert_output "$nodes"
	run -0 tab 'silver update --node node'
	assert_output "$(words node1.example.org node2.example.org)"
	run -0 tab 'silver activate --node root@1'
	assert_output "$(words root@192.0.2.7 root@127.0.0.1:2222)"
}

@test "with --node, the first operand of query is no node" {
	run -0 tab 'silver query --node node1.example.org '
	assert_output ''
	run -0 tab 'silver clean-node --node=node1.example.org '
	assert_output ''
	run -0 tab 'silver list-certs --node node1.example.org '
	assert_output ''
}

@test "the certificates' verbs: a node, then install-cert's two files, renew-certs' hosts" {
	nodes=$(words node1.example.org node2.example.org 192.0.2.7 127.0.0.1:2222)
	run -0 tab 'silver install-cert '
	assert_output "$nodes"
	run -0 tab 'silver list-certs '
	assert_output "$nodes"
	run -0 tab 'silver renew-certs --force '
	assert_output "$nodes"
	run -0 tab 'silver install-cert node1.example.org blog.t'
	assert_output blog.tar.gz
	run -0 tab 'silver install-cert --node node1.example.org blog.tar.gz n'
	assert_output notes
	run -0 tab 'silver install-cert node1.example.org blog.tar.gz notes '
	assert_output ''
	run -0 tab 'silver renew-certs node1.example.org node'
	assert_output "$(words node1.example.org node2.example.org)"
	run -0 tab 'silver renew-certs --node node1.example.org node1.example.org node2'
	assert_output node2.example.org
	# the value of --acme-directory is the user's to type
	run -0 tab 'silver update --acme-directory '
	assert_output ''
}

@test "local nodes come from sl-node list: names for destroy-node, root@ADDRESS for a node" {
	mkdir -p "$SL_LOCAL/nodes/try" "$SL_LOCAL/nodes/other"
	echo 10.231.0.2 > "$SL_LOCAL/nodes/try/ip"
	echo 10.231.0.3 > "$SL_LOCAL/nodes/other/ip"
	rm "$HOME/.ssh/known_hosts"
	run -0 sl-node list
	assert_line "$(printf 'try\troot@10.231.0.2\tstopped')"
	run -0 tab 'silver destroy-node '
	assert_output "$(words other try)"
	run -0 tab 'silver destroy-node t'
	assert_output try
	run -0 tab 'silver update --node '
	assert_output "$(words root@10.231.0.2 root@10.231.0.3)"
}

@test "without known_hosts, or when sl-node refuses, no node is offered and nothing is said" {
	rm "$HOME/.ssh/known_hosts"
	mkdir -p fake
	cp "$TOP/bin/silver" fake/silver
	printf '#!/bin/sh\necho "sl-node: fatal: local nodes need root" >&2\nexit 100\n' > fake/sl-node
	chmod 755 fake/sl-node
	run -0 --separate-stderr tab 'fake/silver update --node '
	assert_output ''
	assert_equal "$stderr" ''
	run -0 --separate-stderr tab 'fake/silver destroy-node '
	assert_output ''
	assert_equal "$stderr" ''
}

@test "app directories: those holding an app.ini, or one level above one" {
	run -0 tab 'silver update '
	assert_output "$(words blog examples)"
	run -0 tab 'silver update examples/'
	assert_output examples/hello
	run -0 tab 'silver env '
	assert_output "$(words blog examples)"
	run -0 tab 'silver serve --port 8081 b'
	assert_output blog
	run -0 tab 'silver create-config '
	assert_output "$(words blog examples)"
	# inside an app, the app itself
	cd blog
	run -0 tab 'silver update '
	assert_output .
	# no app anywhere: every directory
	cd "$W/notes"
	mkdir a b
	run -0 tab 'silver update '
	assert_output "$(words a b)"
}

@test "the LOCATION after DIR: the app's default_location, then the known hosts" {
	hosts=$(words node1.example.org node2.example.org 192.0.2.7 127.0.0.1)
	run -0 tab 'silver update blog '
	assert_output "$(words blog.example.org $hosts)"
	run -0 tab 'silver update --node node1.example.org --clear blog b'
	assert_output blog.example.org
	run -0 tab 'silver diff blog/ blog'
	assert_output blog.example.org
	# offered once when it is a known host too
	echo 'blog.example.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE' >> "$HOME/.ssh/known_hosts"
	run -0 tab 'silver update blog '
	assert_output "$(words blog.example.org $hosts)"
	sed -i '$d' "$HOME/.ssh/known_hosts"
	# no default_location: the known hosts
	run -0 tab 'silver update examples/hello '
	assert_output "$hosts"
	# an app.ini sl-app refuses: the known hosts, and no noise
	app broken 'app_name = no section'
	run -0 --separate-stderr tab 'silver update broken '
	assert_output "$hosts"
	assert_equal "$stderr" ''
}

@test "a LOCATION is a known host; activate then offers prev" {
	run -0 tab 'silver logs -f node2'
	assert_output node2.example.org
	run -0 tab 'silver activate node1.example.org '
	assert_output prev
	run -0 tab 'silver backup node1.example.org blog.t'
	assert_output blog.tar.gz
}

@test "restore's BACKUP is a file or a directory; --config is a directory" {
	run -0 tab 'silver restore '
	assert_output "$(words blog blog.tar.gz examples notes)"
	run -0 tab 'silver restore --node node1.example.org blog.'
	assert_output blog.tar.gz
	run -0 tab 'silver restore blog.tar.gz node1'
	assert_output node1.example.org
	run -0 tab 'silver update --config '
	assert_output "$(words blog examples notes)"
	run -0 tab 'silver update --config=n'
	assert_output --config=notes
	run -0 tab 'silver serve --config '
	assert_output "$(words blog examples notes)"
}

@test "the values of run --user, of create-node --provider; -i of run is a switch" {
	run -0 tab 'silver run --user '
	assert_output "$(words app root)"
	run -0 tab 'silver create-node --provider '
	assert_output local
	run -0 tab 'silver run -i node1'
	assert_output node1.example.org
	run -0 tab 'silver update -i blog.t'
	assert_output blog.tar.gz
}

@test "env completes a command after --" {
	run -0 tab 'silver env blog -- sl-en'
	assert_output sl-env
}

# COMP_WORDS and the word readline replaces ($2) as bash 5.2 gives them:
# it splits words at = : and @.
@test "words bash splits at = and @ are read whole, and the reply fits the part readline replaces" {
	COMP_LINE='silver update --node=no' COMP_POINT=23
	COMP_WORDS=(silver update --node = no) COMP_CWORD=4
	_silver silver no =
	assert_equal "$(words "${COMPREPLY[@]}")" "$(words node1.example.org node2.example.org)"

	COMP_LINE='silver update --node=root@node2' COMP_POINT=31
	COMP_WORDS=(silver update --node = root @ node2) COMP_CWORD=6
	_silver silver @node2 @
	assert_equal "${COMPREPLY[*]}" @node2.example.org

	COMP_LINE='silver update --node 127.0.0.1:22' COMP_POINT=33
	COMP_WORDS=(silver update --node 127.0.0.1 : 22) COMP_CWORD=5
	_silver silver 22 :
	assert_equal "${COMPREPLY[*]}" 2222
}

# silverlining — the one Makefile. `make`, `make check`, `make install`.

VERSION := $(shell sed -n 's/^\#define SL_VERSION "\(.*\)"/\1/p' libsl/version.h)

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DESTDIR ?=

CC ?= cc
CFLAGS ?= -O2 -g
override CFLAGS := -std=c11 -Wall -Wextra -Wshadow -Wformat=2 -Wno-format-nonliteral $(CFLAGS)
override CPPFLAGS := -D_GNU_SOURCE -I/usr/include/postgresql -I/usr/include/mariadb $(CPPFLAGS)
# tools link only the libraries they use (sl-env stays fast to start)
override LDFLAGS := -Wl,--as-needed $(LDFLAGS)
LDLIBS_INI := -linih
LDLIBS_SSH := -lssh2 -lcrypto
# libpq and libmariadb are loaded with dlopen by the node verbs alone
LDLIBS_DB :=

# A new tool is one word in one of these lists.
TOOLS := sl-env sl-sync sl-remote sl-provision sl-app sl-config sl-route sl-remote-run \
	sl-remote-backup sl-activate sl-run sl-query sl-backup sl-cert sl-job sl-balancer \
	sl-nodeset sl-dbnode sl-backup-push sl-backup-receive
SERVICES := postgis postgresql mysql files writable_root redis
SCRIPTS := silver sl-node sl-init sl-serve
LIBSL := exit buf mem err msg strv run quote ini app devconf file appenv \
	manifest ssh instance instance-names upload appuser node render location route \
	template diff service service-db service-area service-pg service-my service-redis backups say failing unit switch prepare gate tls acme fcgi schedule jobs nodeset balancer fanout dbrecord dbclient dbnode backup-push
# the verbs of silver, each with its page silver-VERB(1)
VERBS := env init serve setup-node create-node destroy-node list-nodes update \
	activate deactivate query clean-node disable enable logs backup restore \
	clear run create-config diff install-cert list-certs renew-certs jobs run-job failover backups
MAN1 := $(TOOLS) $(SCRIPTS) $(SERVICES:%=sl-service-%) $(VERBS:%=silver-%)
MAN7 := silver

# Where objects and tools go. The sanitizer and fuzzing builds (make asan,
# make fuzz) are this Makefile run again with their own B and BIN.
B := build
BIN := bin
LIB := $(B)/libsl.a
BINS := $(TOOLS:%=$(BIN)/%) $(SERVICES:%=$(BIN)/sl-service-%) $(SCRIPTS:%=$(BIN)/%)
ARCH := $(shell dpkg --print-architecture 2>/dev/null || echo unknown)
DEB := build/silverlining_$(VERSION)_$(ARCH).deb
TESTBINS := $(B)/tests/libsl-test $(B)/tests/render-test $(B)/tests/tls-test $(B)/tests/balancer-test

all: $(BINS) $(TESTBINS)

$(B)/%.o: %.c $(wildcard libsl/*.h)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(LIB): $(LIBSL:%=$(B)/libsl/%.o)
	@rm -f $@
	$(AR) rcs $@ $^

$(BIN)/sl-%: $(B)/cmd/sl-%.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS_INI) $(LDLIBS_SSH) $(LDLIBS)

$(BIN)/sl-service-%: $(B)/services/sl-service-%.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS_INI) $(LDLIBS_SSH) $(LDLIBS_DB) $(LDLIBS)

# The shell tools get the prelude in place of their line "# @PRELUDE@".
SH_SCRIPTS := $(filter-out sl-serve,$(SCRIPTS))
$(SH_SCRIPTS:%=$(BIN)/%): $(BIN)/%: cmd/%.sh cmd/prelude.sh libsl/version.h
	@mkdir -p $(@D)
	sed -e 's/@VERSION@/$(VERSION)/' -e '/^# @PRELUDE@$$/{r cmd/prelude.sh' -e 'd;}' $< > $@.tmp
	chmod 755 $@.tmp && mv $@.tmp $@

$(BIN)/sl-serve: cmd/sl-serve.py libsl/version.h
	@mkdir -p $(@D)
	sed 's/@VERSION@/$(VERSION)/' $< > $@.tmp && chmod 755 $@.tmp && mv $@.tmp $@

$(B)/tests/%: $(B)/tests/%.o $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS_INI) $(LDLIBS_SSH) $(LDLIBS)

# The sanitizer build: the same tools built by clang with ASan and UBSan,
# objects in build/asan and tools in bin-asan (the normal build is left
# alone). tests/run's sanitizer tier runs the unit and transport suites
# on it. Every report is fatal (-fno-sanitize-recover; tests/run sets
# ASAN_OPTIONS and UBSAN_OPTIONS).
SANITIZE := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
asan:
	$(MAKE) B=build/asan BIN=bin-asan CC=clang CFLAGS='-O1 -g $(SANITIZE)' all

# The fuzz harnesses of fuzz/ (libFuzzer, clang), on a libsl of their own
# in build/fuzz; make fuzz runs each for FUZZ_SECONDS (fuzz/run).
FUZZERS := app-ini devconf silverignore manifest receive fcgi nodeset backup-receive
FUZZ_SECONDS ?= 60
fuzzers:
	$(MAKE) B=build/fuzz CC=clang CFLAGS='-O1 -g $(SANITIZE) -fsanitize=fuzzer-no-link' \
		fuzz-harnesses

# (make fuzzers runs this with B=build/fuzz)
fuzz-harnesses: $(FUZZERS:%=$(B)/bin/%)

$(FUZZERS:%=$(B)/fuzz/%.o) $(B)/fuzz/fuzz.o: fuzz/fuzz.h

$(B)/bin/%: $(B)/fuzz/%.o $(B)/fuzz/fuzz.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fsanitize=fuzzer $(LDFLAGS) -o $@ $^ $(LDLIBS_INI) $(LDLIBS_SSH) $(LDLIBS)

fuzz: fuzzers
	FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run

# Every test, from a fresh Debian 12 machine too: what the tests need is
# installed first (apt-get; nothing is done when it is all there), then
# the build, the package, and every suite (tests/run).
check:
	bash .ci/install-deps
	$(MAKE) check-suites

# The package is built without its test step (the unit tier), which
# tests/run runs with the other tiers: once is enough.
check-suites: all $(TESTBINS) asan fuzzers
	DEB_BUILD_OPTIONS="$(DEB_BUILD_OPTIONS) nocheck" $(MAKE) deb
	tests/run

# The unit tier alone: no node, no root, no package. The package build's
# test step (debian/rules); make check runs it with the other tiers.
check-unit: all
	bats --tap tests/unit

# The main job: a local node, provisioned, serving examples/hello (root).
# The README's first command, bash examples/demo, is the same.
demo:
	examples/demo

# The benchmarks of doc/BENCH.md, from a fresh Debian 12 machine too: what
# they need is installed first, as make check does, then the build.
bench:
	bash .ci/install-deps --bench
	$(MAKE) bench-run

bench-run: all
	bench/sync
	bench/deploy
	bench/failsafe
	bench/nodes
	bench/dbnodes

# The link graph of libsl has no cycle: each module depends only on the
# modules below it (tests/lib/link-cycles, with nm, names any cycle).
check-links: $(LIB)
	tests/lib/link-cycles $(LIB)

lint-man:
	@mandoc -Tlint -W warning $(MAN1:%=man/%.1) $(MAN7:%=man/%.7)

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man7
	install -m 755 $(BINS) $(DESTDIR)$(BINDIR)
	install -m 644 $(MAN1:%=man/%.1) $(DESTDIR)$(MANDIR)/man1
	install -m 644 $(MAN7:%=man/%.7) $(DESTDIR)$(MANDIR)/man7
	cd share && find . -type f ! -name '*.pyc' | while read -r f; do \
		install -D -m "$$(stat -c %a "$$f")" "$$f" "$(DESTDIR)$(PREFIX)/share/$$f" || exit 1; \
	done

# The package, built by dpkg-buildpackage and dh (debian/) in a copy of
# the tree under build/pkg: dpkg-buildpackage writes its results into the
# parent directory and debian/rules clean runs make clean, so neither may
# happen here. The copy leaves out version control and the build's output.
PKGDIR := build/pkg
deb:
	@v=$$(dpkg-parsechangelog -S Version) && [ "$$v" = "$(VERSION)" ] || \
		{ echo "make: debian/changelog says $$v, libsl/version.h $(VERSION)" >&2; exit 1; }
	rm -rf $(PKGDIR) && mkdir -p $(PKGDIR)/src
	tar -cf - --exclude-vcs --exclude=./build --exclude=./bin --exclude=./bin-asan --exclude=./tests/tmp \
		--exclude=silver-logs --exclude=__pycache__ . | tar -C $(PKGDIR)/src -xf -
	cd $(PKGDIR)/src && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL dpkg-buildpackage -us -uc -b -J
	mv $(PKGDIR)/silverlining_$(VERSION)_$(ARCH).deb $(DEB)
	rm -rf $(PKGDIR)

clean:
	rm -rf build bin bin-asan

.PHONY: all check check-suites check-unit bench bench-run deb demo install clean lint-man check-links \
	asan fuzz fuzzers fuzz-harnesses
.SECONDARY:

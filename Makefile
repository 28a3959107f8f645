# ipipd: IP-in-IP tunnels from one configuration file.
#   make            build build/ipipd and build/ipipctl
#   make check      unit, fuzz-corpus and namespace integration tests (as root)
#   make demo       the demo in network namespaces (as root)
#   make fuzz       run the libFuzzer harnesses (FUZZ_SECONDS each)
#   make deb        build/ipipd_VERSION_ARCH.deb (debhelper), checked by lintian
#   make install    honours DESTDIR and PREFIX (bash completion in
#                   BASHCOMPDIR); without DESTDIR also creates the system user
#                   ipipd (systemd-sysusers, else useradd)
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
SYSUSERSDIR ?= /usr/lib/sysusers.d
UNITDIR ?= /usr/lib/systemd/system
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
FUZZ_SECONDS ?= 60

CC ?= cc
CLANG ?= clang
PKG_CONFIG ?= pkg-config
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wpointer-arith -Wcast-align -Wwrite-strings -Wformat=2 -Wundef -Wvla \
	-Wno-unused-parameter
CFLAGS ?= -O2 -g
CFLAGS += -std=c11 -D_GNU_SOURCE $(WARN) -MMD -MP
LIBS := -lmnl -linih -luring -lnftables -lseccomp -lcap-ng -lbpf -lsystemd
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

ifeq ($(V),1)
Q :=
else
Q := @
endif

B := build
CORE := packet hub softstate msg tunnel tunnel_run endpoint config lint log netlink tun datapath dp_tx dp_rx dp_uring control journal ledger firewall fwwatch host offload sandbox fastpath fpshare tcfilter child
IPIPD_OBJ := $(addprefix $(B)/,$(addsuffix .o,$(CORE) ipipd))
IPIPCTL_OBJ := $(addprefix $(B)/,$(addsuffix .o,config endpoint control journal ledger ipipctl metrics packet host firewall netlink tcfilter log lint))
ASAN_IPIPD_OBJ := $(IPIPD_OBJ:$(B)/%=$(B)/asan/%)
ASAN_IPIPCTL_OBJ := $(IPIPCTL_OBJ:$(B)/%=$(B)/asan/%)

all: $(B)/.deps $(B)/ipipd $(B)/ipipctl

# NO_DEPS=1: the build dependencies are someone else's business (a package build).
$(B)/.deps: scripts/deps.sh
	$(Q)$(if $(NO_DEPS),true,scripts/deps.sh build)
	$(Q)mkdir -p $(B) && touch $@

# The eBPF fast path: compiled for the BPF target and embedded as a libbpf
# skeleton (no file is loaded at run time).
BPF_CFLAGS := -target bpf -O2 -g -mcpu=v3 -fno-strict-aliasing -Wall -Wextra -Werror \
	-I/usr/include/$(shell $(CC) -dumpmachine)
# src/bpf/NAME.bpf.c: the skeleton NAME.skel.h, of struct NAME_bpf.
$(B)/%.bpf.o: src/bpf/%.bpf.c src/bpf/own_map.h src/fastpath_abi.h src/codepoints.h src/flowhash.h \
		$(B)/.deps
	@echo "  BPF     $@"
	$(Q)$(CLANG) $(BPF_CFLAGS) -c -o $@ $<
$(B)/%.skel.h: $(B)/%.bpf.o
	@echo "  SKEL    $@"
	$(Q)bpftool gen skeleton $< name $*_bpf >$@.tmp && mv $@.tmp $@
# ipip: each tunnel's programs (src/fastpath.c); dispatch: the ingress program
# an underlay's tunnels share (src/fpshare.c).
$(B)/fastpath.o $(B)/asan/fastpath.o: $(B)/ipip.skel.h
$(B)/fpshare.o $(B)/asan/fpshare.o: $(B)/dispatch.skel.h
$(B)/fastpath.o $(B)/asan/fastpath.o $(B)/fpshare.o $(B)/asan/fpshare.o: CFLAGS += -I$(B)
.SECONDARY: $(B)/ipip.bpf.o $(B)/dispatch.bpf.o	# kept (bpftool prog, llvm-objdump)

$(B)/%.o: src/%.c $(B)/.deps
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(B)/asan/%.o: src/%.c $(B)/.deps
	@mkdir -p $(B)/asan
	@echo "  CC+SAN  $@"
	$(Q)$(CC) $(CFLAGS) $(SAN) -c -o $@ $<

$(B)/ipipd: $(IPIPD_OBJ)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

$(B)/ipipctl: $(IPIPCTL_OBJ)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

$(B)/asan/ipipd: $(ASAN_IPIPD_OBJ)
	$(Q)$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(LIBS)

$(B)/asan/ipipctl: $(ASAN_IPIPCTL_OBJ)
	$(Q)$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(LIBS)

# Unit tests (cmocka) of the pure code, with sanitizers.
$(B)/test_%: tests/unit/test_%.c $(B)/asan/packet.o $(B)/asan/hub.o $(B)/asan/softstate.o $(B)/asan/config.o $(B)/asan/control.o $(B)/asan/offload.o \
		$(B)/asan/lint.o $(B)/asan/netlink.o $(B)/asan/journal.o $(B)/asan/firewall.o \
		$(B)/asan/fwwatch.o $(B)/asan/log.o $(B)/asan/tunnel.o $(B)/asan/endpoint.o $(B)/asan/dp_uring.o
	@echo "  CC+SAN  $@"
	$(Q)$(CC) $(CFLAGS) $(SAN) -Isrc -o $@ $^ -lcmocka $(LIBS)

UNIT := $(patsubst tests/unit/%.c,$(B)/%,$(wildcard tests/unit/test_*.c))

# Fuzz harnesses: libFuzzer binaries for `make fuzz`, and the same code with a
# plain corpus-replay main under sanitizers for `make check`.
FUZZERS := decap config control icmp msg fwwatch offload differential
FUZZ_SRC_decap := src/packet.c
FUZZ_SRC_config := src/config.c src/endpoint.c src/packet.c src/lint.c src/netlink.c src/control.c
FUZZ_SRC_control := src/control.c
FUZZ_SRC_icmp := src/packet.c src/softstate.c
FUZZ_SRC_msg := src/msg.c
FUZZ_SRC_fwwatch := src/fwwatch.c src/firewall.c src/log.c src/control.c
FUZZ_SRC_offload := src/offload.c
# The eBPF programs (the skeleton) against the C packet code: needs root.
FUZZ_SRC_differential := src/packet.c src/fastpath.c src/fpshare.c src/tcfilter.c src/log.c src/hub.c
FUZZ_FLAGS_differential := -I$(B)
$(B)/fuzz/differential $(B)/replay/differential: $(B)/ipip.skel.h $(B)/dispatch.skel.h
# Corpora other than tests/fuzz/corpus/NAME (the same input format).
FUZZ_CORPUS_decap := tests/fuzz/corpus/decap tests/fuzz/corpus/encap
FUZZ_CORPUS_differential := tests/fuzz/corpus/decap tests/fuzz/corpus/encap
# (rebuilt when the sources they take in, or any header, change)
.SECONDEXPANSION:
$(B)/fuzz/%: tests/fuzz/fuzz_%.c $$(FUZZ_SRC_$$*) $(wildcard src/*.h) tests/fuzz/fuzz.h $(B)/.deps
	@mkdir -p $(B)/fuzz
	$(Q)scripts/deps.sh fuzz
	$(Q)$(CLANG) -std=c11 -D_GNU_SOURCE -g -O1 -Isrc $(FUZZ_FLAGS_$*) \
		-fsanitize=fuzzer,address,undefined -o $@ $< $(FUZZ_SRC_$*) $(LIBS)

$(B)/replay/%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $$(FUZZ_SRC_$$*) $(wildcard src/*.h) \
		tests/fuzz/fuzz.h $(B)/.deps
	@mkdir -p $(B)/replay
	$(Q)$(CC) $(CFLAGS) $(SAN) -Isrc $(FUZZ_FLAGS_$*) -o $@ $< tests/fuzz/replay.c \
		$(FUZZ_SRC_$*) $(LIBS)

check: all
	$(Q)scripts/deps.sh check
	$(Q)$(MAKE) -s $(UNIT) $(B)/asan/ipipd $(B)/asan/ipipctl $(addprefix $(B)/replay/,$(FUZZERS))
	$(Q)tests/run-all.sh

demo: all
	$(Q)scripts/deps.sh demo
	$(Q)tests/demo.sh

# Throughput, packet rate, latency, CPU and memory against the direct path and
# other userspace tunnels (as root; BENCH_QUICK=1 for a short development run).
bench: all
	$(Q)scripts/deps.sh bench
	$(Q)bench/bench.sh

# The Debian package, into build/ (debian/: debhelper), judged by lintian;
# built from a copy of this tree, which it leaves alone.
VERSION := $(shell awk -F'[()]' 'NR == 1 { print $$2 }' debian/changelog)
deb:
	$(Q)scripts/deps.sh deb
	$(Q)rm -rf $(B)/pkg && mkdir -p $(B)/pkg/ipipd-$(VERSION)
	$(Q)tar --exclude=./build --exclude=./.git -cf - . | tar -xf - -C $(B)/pkg/ipipd-$(VERSION)
	$(Q)cd $(B)/pkg/ipipd-$(VERSION) && dpkg-buildpackage -us -uc -b >../build.log 2>&1 || \
		{ tail -40 ../build.log; exit 1; }
	$(Q)cp $(B)/pkg/ipipd_$(VERSION)_*.deb $(B)/
	$(Q)lintian --fail-on error,warning --info $(B)/pkg/ipipd_$(VERSION)_*.changes
	@ls $(B)/ipipd_$(VERSION)_*.deb

fuzz: $(addprefix $(B)/fuzz/,$(FUZZERS))
	$(Q)$(foreach f,$(FUZZERS),mkdir -p $(B)/corpus-$(f) && \
		$(B)/fuzz/$(f) -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			$(B)/corpus-$(f) $(or $(FUZZ_CORPUS_$(f)),tests/fuzz/corpus/$(f)) &&) true

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(SYSCONFDIR)/ipipd
	install -m 0755 $(B)/ipipd $(B)/ipipctl $(DESTDIR)$(SBINDIR)/
	install -m 0644 man/ipipd.8 man/ipipctl.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 man/ipipd.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -d $(DESTDIR)$(UNITDIR)
	sed 's|/usr/sbin/|$(SBINDIR)/|g' dist/ipipd@.service >$(DESTDIR)$(UNITDIR)/ipipd@.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/ipipd@.service
	install -d $(DESTDIR)$(BASHCOMPDIR)
	install -m 0644 completion/ipipd completion/ipipctl $(DESTDIR)$(BASHCOMPDIR)/
	install -d $(DESTDIR)$(SYSUSERSDIR)
	install -m 0644 dist/ipipd.sysusers $(DESTDIR)$(SYSUSERSDIR)/ipipd.conf
	@# the datapath's system user: made here only for this host, by a package elsewhere
	$(if $(DESTDIR),,scripts/adduser.sh $(SYSUSERSDIR)/ipipd.conf)

clean:
	rm -rf $(B)

.PHONY: all check demo bench deb fuzz install clean
-include $(wildcard $(B)/*.d $(B)/asan/*.d)

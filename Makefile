# ipipd: IP-in-IP tunnels from one configuration file.
#   make            build build/ipipd and build/ipipctl
#   make check      unit, fuzz-corpus and namespace integration tests (as root)
#   make demo       the demo in network namespaces (as root)
#   make fuzz       run the libFuzzer harnesses (FUZZ_SECONDS each)
#   make install    honours DESTDIR and PREFIX
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
FUZZ_SECONDS ?= 60

CC ?= cc
CLANG ?= clang
PKG_CONFIG ?= pkg-config
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wpointer-arith -Wcast-align -Wwrite-strings -Wformat=2 -Wundef -Wvla \
	-Wno-unused-parameter
CFLAGS ?= -O2 -g
CFLAGS += -std=c11 -D_GNU_SOURCE $(WARN) -MMD -MP
LIBS := -lmnl -linih -lnftables -lseccomp -lcap-ng -lbpf
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

ifeq ($(V),1)
Q :=
else
Q := @
endif

B := build
CORE := packet config log netlink tun datapath control firewall host offload sandbox fastpath
IPIPD_OBJ := $(addprefix $(B)/,$(addsuffix .o,$(CORE) ipipd))
IPIPCTL_OBJ := $(addprefix $(B)/,$(addsuffix .o,config control ipipctl packet host firewall netlink fastpath log))
ASAN_IPIPD_OBJ := $(IPIPD_OBJ:$(B)/%=$(B)/asan/%)
ASAN_IPIPCTL_OBJ := $(IPIPCTL_OBJ:$(B)/%=$(B)/asan/%)

all: $(B)/.deps $(B)/ipipd $(B)/ipipctl

$(B)/.deps: scripts/deps.sh
	$(Q)scripts/deps.sh build
	$(Q)mkdir -p $(B) && touch $@

# The eBPF fast path: compiled for the BPF target and embedded as a libbpf
# skeleton (no file is loaded at run time).
BPF_CFLAGS := -target bpf -O2 -g -mcpu=v3 -fno-strict-aliasing -Wall -Wextra -Werror \
	-I/usr/include/$(shell $(CC) -dumpmachine)
$(B)/ipip.bpf.o: src/bpf/ipip.bpf.c src/fastpath_abi.h $(B)/.deps
	@echo "  BPF     $@"
	$(Q)$(CLANG) $(BPF_CFLAGS) -c -o $@ $<
$(B)/ipip.skel.h: $(B)/ipip.bpf.o
	@echo "  SKEL    $@"
	$(Q)bpftool gen skeleton $< name ipip_bpf >$@.tmp && mv $@.tmp $@
$(B)/fastpath.o $(B)/asan/fastpath.o: $(B)/ipip.skel.h
$(B)/fastpath.o $(B)/asan/fastpath.o: CFLAGS += -I$(B)

$(B)/%.o: src/%.c $(B)/.deps
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(B)/asan/%.o: src/%.c $(B)/.deps
	@mkdir -p $(B)/asan
	@echo "  CC+SAN  $@"
	$(Q)$(CC) $(CFLAGS) $(SAN) -c -o $@ $<

$(B)/ipipd: $(IPIPD_OBJ)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LIBS)

$(B)/ipipctl: $(IPIPCTL_OBJ)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LIBS)

$(B)/asan/ipipd: $(ASAN_IPIPD_OBJ)
	$(Q)$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(LIBS)

$(B)/asan/ipipctl: $(ASAN_IPIPCTL_OBJ)
	$(Q)$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(LIBS)

# Unit tests (cmocka) of the pure code, with sanitizers.
$(B)/test_%: tests/unit/test_%.c $(B)/asan/packet.o $(B)/asan/config.o $(B)/asan/control.o $(B)/asan/offload.o
	@echo "  CC+SAN  $@"
	$(Q)$(CC) $(CFLAGS) $(SAN) -Isrc -o $@ $^ -lcmocka $(LIBS)

UNIT := $(patsubst tests/unit/%.c,$(B)/%,$(wildcard tests/unit/test_*.c))

# Fuzz harnesses: libFuzzer binaries for `make fuzz`, and the same code with a
# plain corpus-replay main under sanitizers for `make check`.
FUZZERS := decap config control icmp offload
FUZZ_SRC_decap := src/packet.c
FUZZ_SRC_config := src/config.c src/packet.c
FUZZ_SRC_control := src/control.c
FUZZ_SRC_icmp := src/packet.c
FUZZ_SRC_offload := src/offload.c
$(B)/fuzz/%: tests/fuzz/fuzz_%.c $(B)/.deps
	@mkdir -p $(B)/fuzz
	$(Q)scripts/deps.sh fuzz
	$(Q)$(CLANG) -std=c11 -D_GNU_SOURCE -g -O1 -Isrc -fsanitize=fuzzer,address,undefined \
		-o $@ $< $(FUZZ_SRC_$*) $(LIBS)

$(B)/replay/%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(B)/.deps
	@mkdir -p $(B)/replay
	$(Q)$(CC) $(CFLAGS) $(SAN) -Isrc -o $@ $< tests/fuzz/replay.c $(FUZZ_SRC_$*) $(LIBS)

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

fuzz: $(addprefix $(B)/fuzz/,$(FUZZERS))
	$(Q)for f in $(FUZZERS); do \
		mkdir -p $(B)/corpus-$$f; \
		$(B)/fuzz/$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			$(B)/corpus-$$f tests/fuzz/corpus/$$f || exit 1; \
	done

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(SYSCONFDIR)/ipipd
	install -m 0755 $(B)/ipipd $(B)/ipipctl $(DESTDIR)$(SBINDIR)/
	install -m 0644 man/ipipd.8 man/ipipctl.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 man/ipipd.conf.5 $(DESTDIR)$(MANDIR)/man5/

clean:
	rm -rf $(B)

.PHONY: all check demo bench fuzz install clean
-include $(wildcard $(B)/*.d $(B)/asan/*.d)

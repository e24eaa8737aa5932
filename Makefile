# SPDX-License-Identifier: GPL-2.0
# xwg build: userspace agent (gcc), BPF programs (clang) with bpftool skeletons, tests, demo, install.

# SANITIZE=1: the agent, tests and benchmarks with ASan and UBSan, in their own output directory so
# sanitized and normal objects never mix (make check SANITIZE=1, make check-sanitize).
# Built with clang: its one sanitizer runtime writes UBSan reports where UBSAN_OPTIONS=log_path says,
# so selftests/run.sh finds them (gcc's separate libubsan ignores log_path next to ASan and prints to
# whatever stderr the agent had). clang's field-initializer warning flags `{ .a = 1 }` designators.
ifeq ($(SANITIZE),1)
OUTPUT    ?= .output-san
CC        := clang
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer
SAN_WFLAGS := -Wno-missing-field-initializers
endif
OUTPUT    ?= .output
CC        ?= gcc
CLANG     ?= clang
BPFTOOL   ?= bpftool
PREFIX    ?= /usr/local
DESTDIR   ?=
ARCH      := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')

# Every Debian package the build, the tests, the demo and the benchmark need.
DEB_PKGS  := gcc make clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libssl-dev libnl-3-dev \
             libnl-route-3-dev pkg-config iproute2 wireguard-go wireguard-tools iperf3 tshark \
             tcpdump iputils-ping ethtool procps psmisc kmod jq python3 python3-yaml util-linux linux-perf \
             nftables libnftables-dev libmicrohttpd-dev openresolv prometheus \
             libcurl4-openssl-dev libjson-c-dev libyaml-dev curl libclang-rt-14-dev

# user/ by layer: the protocol core (no I/O, no libbpf), the data plane (TUN, sockets, BPF), control (CLI,
# configuration, UAPI, netlink, show), node (the Kubernetes node agent, on top: only main.c's command table
# calls it). Lower layers reach higher ones only through core/hooks.h.
USER_LAYERS := core dataplane control node
NL_CFLAGS := $(shell pkg-config --cflags libnl-3.0 libnl-route-3.0 2>/dev/null || echo -I/usr/include/libnl3)
CFLAGS    ?= -O2 -g
XCFLAGS   := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter -MMD -MP \
             -Iinclude $(addprefix -Iuser/,$(USER_LAYERS)) -I$(OUTPUT) $(NL_CFLAGS)
LDLIBS    := -pthread -lbpf -lelf -lz -lcrypto -lnl-route-3 -lnl-3 -lnftables -lmicrohttpd -lcurl -ljson-c -lyaml
XCFLAGS   += $(SAN_FLAGS) $(SAN_WFLAGS)
LDLIBS    += $(SAN_FLAGS)
# -mcpu=v3 with 64-bit ChaCha state words measured 1.27x faster for the BPF AEAD (README).
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -DXWG_BPF_ALU32 -D__TARGET_ARCH_$(ARCH) -Iinclude -Ivmlinux -I$(OUTPUT) \
              -Wall -Werror -Wno-unused-function

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

BPF_SRCS   := $(wildcard bpf/*.bpf.c)
BPF_OBJS   := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.bpf.o,$(BPF_SRCS))
BPF_SKELS  := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.skel.h,$(BPF_SRCS))
USER_SRCS  := $(foreach l,$(USER_LAYERS),$(wildcard user/$(l)/*.c))
USER_OBJS  := $(patsubst user/%.c,$(OUTPUT)/user/%.o,$(USER_SRCS))
LIB_OBJS   := $(filter-out $(OUTPUT)/user/control/main.o,$(USER_OBJS))
TEST_SRCS  := $(wildcard selftests/test_*.c)
TEST_BINS  := $(patsubst selftests/%.c,$(OUTPUT)/selftests/%,$(TEST_SRCS))
# What the kernel supports, for the runner (selftests/probe_modes.sh); not a test itself.
TEST_BINS  += $(OUTPUT)/selftests/probe_modes
# A foreign TCX program for netns_coexist.sh (bpftool 7.1 cannot attach TCX); not a test itself.
TEST_BINS  += $(OUTPUT)/selftests/tcx_attach
BENCH_SRCS := $(wildcard bench/*.c)
BENCH_BINS := $(patsubst bench/%.c,$(OUTPUT)/%,$(BENCH_SRCS))
DEPS_STAMP := $(OUTPUT)/.deps-ok

.PHONY: all deps check check-sanitize demo bench install clean vmlinux help fuzz fuzz-build
# Skeletons are inputs of several objects: keep them after the build.
.SECONDARY: $(BPF_OBJS) $(BPF_SKELS) $(patsubst $(OUTPUT)/user/%.o,$(OUTPUT)/fuzz/user/%.o,$(LIB_OBJS))
.DEFAULT_GOAL := all

help:
	@echo 'xwg make targets:'
	@echo '  deps     install the Debian packages xwg needs (apt-get; idempotent)'
	@echo '  all      build the xwg agent/CLI and the BPF programs into $(OUTPUT)/'
	@echo '  check    build and run every test (unit, BPF_PROG_TEST_RUN, netns); needs root'
	@echo '  check-sanitize  the C unit tests and netns_interop.sh built with ASan+UBSan (check runs them, interop in auto mode only)'
	@echo '  demo     two namespaces, an xwg tunnel between them, ping + iperf3, xwg show'
	@echo '  bench    TCP both ways, UDP pps, ping, CPU s/GB per data path vs wireguard-go, targets, AEAD; root (BENCH_PERF=1: perf)'
	@echo '  fuzz     build the libFuzzer targets (fuzz/) and run each FUZZ_SECONDS (default 60) seconds,'
	@echo '           then the BPF packet torture with TORTURE_N (default 1000000) frames per program'
	@echo '  install  install xwg and xwg.8 under $$(DESTDIR)$$(PREFIX)'
	@echo '  vmlinux  regenerate vmlinux/vmlinux.h from this kernel'\''s BTF'
	@echo '  clean    remove $(OUTPUT)/'
	@echo 'V=1 prints full commands.'

# Installs only what is missing, so a second run is silent and offline.
deps: $(DEPS_STAMP)
$(DEPS_STAMP): Makefile | $(OUTPUT)
	$(Q)missing=$$(for p in $(DEB_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
		grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then echo "xwg: missing packages: $$missing (run 'make deps' as root)" >&2; exit 1; fi; \
		echo "  DEPS     $$missing"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null || exit 1; \
	fi
	$(Q)touch $@

all: $(OUTPUT)/xwg $(TEST_BINS) $(BENCH_BINS)

$(OUTPUT) $(OUTPUT)/selftests $(addprefix $(OUTPUT)/user/,$(USER_LAYERS)):
	$(Q)mkdir -p $@

$(OUTPUT)/%.bpf.o: bpf/%.bpf.c $(DEPS_STAMP) | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -MMD -MP -c $< -o $@

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

$(OUTPUT)/user/%.o: user/%.c $(BPF_SKELS) $(DEPS_STAMP) | $(addprefix $(OUTPUT)/user/,$(USER_LAYERS))
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(XCFLAGS) -c $< -o $@

$(OUTPUT)/xwg: $(USER_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

$(OUTPUT)/selftests/%: selftests/%.c $(LIB_OBJS) $(BPF_OBJS) $(BPF_SKELS) | $(OUTPUT)/selftests
	$(call msg,CC-TEST,$@)
	$(Q)$(CC) $(CFLAGS) $(XCFLAGS) -Iselftests $< $(LIB_OBJS) $(LDLIBS) -o $@

# Built by all, so the benchmarks compile against the current structs and skeletons (they share the
# tests' header-only helpers, hence the unused-* exceptions).
$(BENCH_BINS): $(OUTPUT)/%: bench/%.c $(BPF_SKELS) $(DEPS_STAMP) | $(OUTPUT)
	$(call msg,CC-BENCH,$@)
	$(Q)$(CC) $(CFLAGS) $(XCFLAGS) -Wno-unused-function -Wno-unused-variable -Iselftests $< $(filter %.o,$^) \
		$(LDLIBS) -o $@

# The flood generator computes mac1 with the agent's own cookie code (user/core/cookie.c).
$(OUTPUT)/flood: $(LIB_OBJS)

# The sanitized unit tests first, so the suite's own "N passed, N failed" is the last line printed.
check: all fuzz-build
ifneq ($(SANITIZE),1)
	$(Q)$(MAKE) --no-print-directory check-sanitize SAN_TESTS='$(SAN_CHECK)' SAN_ENV='$(SAN_CHECK_ENV)'
endif
	$(Q)OUTPUT=$(abspath $(OUTPUT)) selftests/run.sh

# The C unit tests and netns_interop.sh again with ASan and UBSan, in $(OUTPUT)-san. make check runs the
# interop matrix there in auto mode only with short streams (SAN_CHECK_ENV; about 3 minutes with the
# build), check-sanitize the whole matrix (4 minutes more), make check SANITIZE=1 the whole suite.
SAN_OUTPUT := $(if $(filter 1,$(SANITIZE)),$(OUTPUT),$(OUTPUT)-san)
SAN_TESTS  ?= ^(test_[a-z0-9_]+|netns_interop\.sh)$$
SAN_CHECK  := $(SAN_TESTS)
SAN_CHECK_ENV := XWG_MODES=auto LONG_SECS=3 SHORT_SECS=1
check-sanitize:
	$(Q)$(MAKE) --no-print-directory SANITIZE=1 OUTPUT=$(SAN_OUTPUT) all
	$(Q)$(SAN_ENV) OUTPUT=$(abspath $(SAN_OUTPUT)) selftests/run.sh '$(SAN_TESTS)'

# libFuzzer targets (fuzz/): the agent's library sources again, with clang and the sanitizers, in
# $(OUTPUT)/fuzz/ so they never mix with the gcc objects. The skeleton headers come from the normal build.
FUZZ_SECONDS ?= 60
FUZZ_RUNS    ?=
TORTURE_N    ?= 1000000
FUZZ_SAN    := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS := -O1 -g $(FUZZ_SAN) $(filter-out -Werror -MMD -MP,$(XCFLAGS)) -Wno-unused-command-line-argument -Wno-missing-field-initializers
FUZZ_SRCS   := $(wildcard fuzz/fuzz_*.c)
FUZZ_BINS   := $(patsubst fuzz/%.c,$(OUTPUT)/fuzz/%,$(FUZZ_SRCS))
FUZZ_LIB    := $(patsubst $(OUTPUT)/user/%.o,$(OUTPUT)/fuzz/user/%.o,$(LIB_OBJS))

$(OUTPUT)/fuzz/user/%.o: user/%.c $(BPF_SKELS) $(DEPS_STAMP)
	$(call msg,CC-FUZZ,$@)
	$(Q)mkdir -p $(@D) && $(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(OUTPUT)/fuzz/%: fuzz/%.c fuzz/fuzz.h $(FUZZ_LIB)
	$(call msg,LD-FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer -Ifuzz -Iselftests $< $(FUZZ_LIB) $(FUZZ_LDFLAGS) $(LDLIBS) -o $@

# The UAPI target must not bind real ports: its own device_set_listen_port stands in (fuzz_uapi.c).
$(OUTPUT)/fuzz/fuzz_uapi: FUZZ_LDFLAGS := -Wl,--wrap=device_set_listen_port

fuzz-build: $(FUZZ_BINS)

# The libFuzzer targets, then the BPF packet torture at its full size (TORTURE_N frames per program).
fuzz: all fuzz-build
	$(Q)rc=0; OUTPUT=$(abspath $(OUTPUT)) FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_RUNS=$(FUZZ_RUNS) fuzz/run.sh || rc=1; \
	XWG_TORTURE_N=$(TORTURE_N) OUTPUT=$(abspath $(OUTPUT)) selftests/run.sh torture || rc=1; exit $$rc

demo: all
	$(Q)OUTPUT=$(abspath $(OUTPUT)) selftests/demo.sh

bench: all
	$(Q)OUTPUT=$(abspath $(OUTPUT)) bench/run.sh

install: $(OUTPUT)/xwg
	$(Q)install -D -m 0755 $(OUTPUT)/xwg $(DESTDIR)$(PREFIX)/bin/xwg
	$(Q)install -D -m 0644 man/xwg.8 $(DESTDIR)$(PREFIX)/share/man/man8/xwg.8
	$(Q)ln -sf xwg $(DESTDIR)$(PREFIX)/bin/xwg-run

vmlinux: $(DEPS_STAMP)
	$(call msg,GEN,vmlinux/vmlinux.h)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux/vmlinux.h

clean:
	$(call msg,CLEAN,$(OUTPUT))
	$(Q)rm -rf $(OUTPUT)

-include $(wildcard $(OUTPUT)/fuzz/user/*/*.d $(OUTPUT)/user/*/*.d $(OUTPUT)/*.d $(OUTPUT)/selftests/*.d)

# mmproxy: plain GNU make.  `make`, `sudo make demo`, `sudo make check`.

PREFIX	?= /usr/local
SBINDIR	?= $(PREFIX)/sbin
MANDIR	?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
UNITDIR	?= /etc/systemd/system
DESTDIR	?=
CC	?= cc
CFLAGS	?= -O2 -g

WARNINGS = -Wall -Wextra -Werror -Wvla -Wshadow -Wpointer-arith \
	-Wmissing-prototypes -Wmissing-declarations -Wstrict-prototypes \
	-Wsign-compare -Wformat=2 -Wno-format-nonliteral
MMCFLAGS = -std=c11 -D_GNU_SOURCE $(WARNINGS)

# The image.  By default the lean one: a static-pie musl binary, when
# Debian's musl-tools is there (a worker costs half the memory:
# contrib/bench/README.md); else glibc.
# MUSL=0 builds the glibc one (into build-glibc/ when musl is the
# default), MUSL=1 insists on musl.  STATIC=1 (a static glibc binary) and
# SANITIZE=1 (ASan needs glibc) are glibc images.
MULTIARCH := $(shell gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
MUSL_SPECS_IN ?= /usr/lib/$(MULTIARCH:-gnu=-musl)/musl-gcc.specs
MUSL_THERE := $(if $(wildcard $(MUSL_SPECS_IN)),1,0)
ifneq ($(STATIC)$(SANITIZE),)
MUSL	?= 0
else
MUSL	?= $(MUSL_THERE)
endif

# STATIC=1: static builds are static-pie: each exec'd worker must get its
# own addresses (spawn.c), the binary's included.
ifeq ($(STATIC),1)
BUILD	?= build-static
LDFLAGS	+= -static-pie
endif
ifeq ($(SANITIZE),1)
BUILD	?= build-san
endif

# musl-gcc's specs know no static-pie, so ours is made from them; they
# hide the system headers, so the kernel's UAPI headers are reached
# through a directory of links.
ifeq ($(MUSL),1)
IMAGE	= the lean static musl image
ifneq ($(MUSL_THERE),1)
BUILD	?= build-musl
endif
else
IMAGE	= the glibc image
ifeq ($(MUSL_THERE),1)
BUILD	?= build-glibc
endif
endif

ifeq ($(SANITIZE),1)
MMCFLAGS += -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer -DMMPROXY_SANITIZE
else
BUILD	?= build
endif

ifeq ($(MUSL),1)
MUSL_SPECS = $(BUILD)/musl.specs
CC	= gcc -specs $(MUSL_SPECS)
LDFLAGS	+= -static-pie
KINCLUDE = $(BUILD)/kinclude
CPPFLAGS += -isystem $(KINCLUDE)
endif

# build/ holds whichever image is the default here: objects of the other
# (musl-tools installed or removed since) are rebuilt.
ifeq ($(MUSL),1)
OTHER_IMAGE = make MUSL=0 builds the glibc one$(if $(filter 1,$(MUSL_THERE)), into build-glibc/)
else ifeq ($(MUSL_THERE),1)
OTHER_IMAGE = plain make builds the lean musl one
else
OTHER_IMAGE = the lean musl one (half the memory per worker) needs musl-tools: apt-get install musl-tools
endif
IMAGE_STAMP = $(BUILD)/image
$(shell mkdir -p $(BUILD) && { [ "$$(cat $(IMAGE_STAMP) 2>/dev/null)" = "$(IMAGE)" ] || echo "$(IMAGE)" >$(IMAGE_STAMP); })

SRCS = \
	src/activation.c \
	src/addr.c \
	src/crc32c.c \
	src/dial.c \
	src/dial_channel.c \
	src/fdpass.c \
	src/flags.c \
	src/io.c \
	src/listener.c \
	src/localaddr.c \
	src/log.c \
	src/logfmt.c \
	src/main.c \
	src/notify.c \
	src/one_conn.c \
	src/pool.c \
	src/privilege.c \
	src/proctitle.c \
	src/proxy_protocol.c \
	src/relay.c \
	src/resolve.c \
	src/routecheck.c \
	src/sandbox.c \
	src/spawn.c \
	src/subnet.c \
	src/supervisor.c \
	src/tcp_conn.c \
	src/tcp_listener.c \
	src/udp_flow.c \
	src/udp_listener.c \
	src/worker.c

# The parser and what it needs: shared by the unit tests and the fuzzer.
PARSER_SRCS = \
	src/addr.c \
	src/crc32c.c \
	src/proxy_protocol.c

HELPERS = \
	$(BUILD)/tests/backend \
	$(BUILD)/tests/closefds \
	$(BUILD)/tests/pp_client \
	$(BUILD)/tests/syslog_sink \
	$(BUILD)/tests/test_proxy_protocol \
	$(BUILD)/tests/test_subnet \
	$(BUILD)/tests/udp_client \
	$(BUILD)/tests/mmproxy-trigger

OBJS = $(SRCS:src/%.c=$(BUILD)/obj/%.o)
PARSER_OBJS = $(PARSER_SRCS:src/%.c=$(BUILD)/obj/%.o)

FUZZ_SECONDS ?= 60

BENCH_TOOLS = \
	$(BUILD)/bench/echo \
	$(BUILD)/bench/floor \
	$(BUILD)/bench/loadgen

.PHONY: all bench bench-tools check test helpers demo fuzz install install-units uninstall clean lint-man

all: $(BUILD)/mmproxy

$(BUILD)/mmproxy: $(OBJS)
	$(CC) $(MMCFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $(OBJS)
	@echo "mmproxy: built $@, $(IMAGE); $(OTHER_IMAGE)"

$(BUILD)/obj/%.o: src/%.c src/*.h $(IMAGE_STAMP) | $(KINCLUDE)
	@mkdir -p $(dir $@)
	$(CC) $(MMCFLAGS) $(CFLAGS) $(CPPFLAGS) -c -o $@ $<

ifdef KINCLUDE
$(KINCLUDE):
	@[ -r $(MUSL_SPECS_IN) ] || { echo "mmproxy: MUSL=1 needs musl-tools (apt-get install musl-tools)" >&2; exit 1; }
	@mkdir -p $@
	sed -e 's|%{!shared: \([^ ]*\)/Scrt1.o}|%{static-pie: \1/rcrt1.o; !shared: \1/Scrt1.o}|' \
	    -e 's|^-dynamic-linker \([^ ]*\) -nostdlib|%{static-pie:-static -pie --no-dynamic-linker -z text; :-dynamic-linker \1} -nostdlib|' \
	    $(MUSL_SPECS_IN) >$(MUSL_SPECS)
	grep -q rcrt1.o $(MUSL_SPECS)
	ln -sfn /usr/include/linux $@/linux
	ln -sfn /usr/include/asm-generic $@/asm-generic
	ln -sfn /usr/include/$(MULTIARCH)/asm $@/asm
endif

helpers: $(HELPERS) $(BENCH_TOOLS)

bench-tools: $(BENCH_TOOLS)

# Test helpers and bench tools parse addresses with mmproxy's own parser.
$(BUILD)/bench/%: contrib/bench/%.c $(BUILD)/obj/addr.o src/addr.h
	@mkdir -p $(dir $@)
	$(CC) $(MMCFLAGS) $(CFLAGS) -Isrc $(LDFLAGS) -o $@ $< $(BUILD)/obj/addr.o

# Against no proxy and go-mmproxy (installed with apt-get when it can be),
# the default build and the other image (glibc beside the lean default,
# or the lean one beside glibc when musl-gcc is there);
# BENCH_FLAGS="--duration 10 --runs 5" and so on; unpinned (the production
# shape) unless BENCH_FLAGS has --pin.
ifeq ($(MUSL),1)
OTHER_BUILD = build-glibc
OTHER_MAKE = MUSL=0 BUILD=$(OTHER_BUILD)
OTHER_ROW = --glibc
else
OTHER_BUILD = build-musl
OTHER_MAKE = MUSL=1 BUILD=$(OTHER_BUILD)
OTHER_ROW = --lean
endif
bench: all bench-tools
	@if $(MAKE) -s $(OTHER_MAKE) all bench-tools >/dev/null 2>&1; then \
	    contrib/bench/run.sh $(abspath $(BUILD)) $(OTHER_ROW) $(abspath $(OTHER_BUILD)) $(BENCH_FLAGS); \
	else \
	    echo "mmproxy bench: no $(OTHER_BUILD) (the lean image needs musl-tools): its row is left out"; \
	    contrib/bench/run.sh $(abspath $(BUILD)) $(BENCH_FLAGS); \
	fi

$(BUILD)/tests/%: tests/helpers/%.c tests/helpers/*.h $(BUILD)/obj/addr.o src/addr.h
	@mkdir -p $(dir $@)
	$(CC) $(MMCFLAGS) $(CFLAGS) -Isrc $(LDFLAGS) -o $@ $< $(BUILD)/obj/addr.o

# The test-only build whose worker makes a forbidden syscall on a trigger
# (tests/security.bats); the trigger is compiled into this binary only.
TRIGGER_OBJS = $(filter-out $(BUILD)/obj/tcp_conn.o $(BUILD)/obj/udp_flow.o \
	$(BUILD)/obj/relay.o,$(OBJS)) \
	$(BUILD)/obj/tcp_conn-trigger.o $(BUILD)/obj/udp_flow-trigger.o \
	$(BUILD)/obj/relay-trigger.o $(BUILD)/obj/test_trigger-trigger.o

$(BUILD)/obj/%-trigger.o: src/%.c src/*.h $(IMAGE_STAMP) | $(KINCLUDE)
	@mkdir -p $(dir $@)
	$(CC) $(MMCFLAGS) $(CFLAGS) $(CPPFLAGS) -DMMPROXY_TEST_TRIGGER -c -o $@ $<

$(BUILD)/tests/mmproxy-trigger: $(TRIGGER_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(MMCFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $(TRIGGER_OBJS)

$(BUILD)/tests/test_proxy_protocol: tests/unit/test_proxy_protocol.c $(PARSER_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(MMCFLAGS) $(CFLAGS) -Isrc $(LDFLAGS) -o $@ $^

$(BUILD)/tests/test_subnet: tests/unit/test_subnet.c $(BUILD)/obj/subnet.o $(BUILD)/obj/addr.o
	@mkdir -p $(dir $@)
	$(CC) $(MMCFLAGS) $(CFLAGS) -Isrc $(LDFLAGS) -o $@ $^

# A bounded libFuzzer run of the parser, the whole suite (bats, network
# namespaces, as root) on the default build (the lean musl image: deps.sh
# installs musl-tools), again on the glibc image (its own syscall set
# under the filter), then with ASan+UBSan.
# SANITIZE=1 runs the sanitizer pass only.
check:
	@tests/deps.sh
ifneq ($(SANITIZE),1)
	$(MAKE) fuzz FUZZ_SECONDS=$(FUZZ_SECONDS)
	$(MAKE) test
	$(MAKE) test MUSL=0
endif
	$(MAKE) test SANITIZE=1

test: all helpers lint-man
	@tests/run.sh $(if $(filter 1,$(SANITIZE)),asan,$(if $(filter 1,$(MUSL)),musl,glibc)) $(abspath $(BUILD))

demo: all helpers
	@contrib/demo.sh $(abspath $(BUILD))

lint-man:
	@out=$$(groff -mdoc -ww -z man/mmproxy.8 2>&1); \
	if [ -n "$$out" ]; then echo "$$out"; exit 1; fi

fuzz: $(BUILD)/fuzz/fuzz_proxy_protocol
	@mkdir -p $(BUILD)/fuzz/corpus
	$(BUILD)/fuzz/fuzz_proxy_protocol -max_total_time=$(FUZZ_SECONDS) \
	    -print_final_stats=1 $(BUILD)/fuzz/corpus tests/fuzz/seeds

$(BUILD)/fuzz/fuzz_proxy_protocol: tests/fuzz/fuzz_proxy_protocol.c $(PARSER_SRCS) src/*.h
	@mkdir -p $(dir $@)
	clang -std=c11 -D_GNU_SOURCE -g -O1 -Isrc \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    -o $@ tests/fuzz/fuzz_proxy_protocol.c $(PARSER_SRCS)

# A sanitizer build's worker filter is no sandbox (src/sandbox.c): it is
# for tests, never installed.
ifeq ($(SANITIZE),1)
install:
	@echo "mmproxy: make install refuses a SANITIZE=1 build: its workers' filter is no sandbox" >&2
	@exit 1
else
# The binary, the routes script and the man page; /etc/mmproxy/ with an
# allowed-subnets file whose subnets are commented out (mmproxy refuses an
# empty list: the operator names the balancers), never over one that is
# there.
install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(SYSCONFDIR)/mmproxy
	install -m 0755 $(BUILD)/mmproxy $(DESTDIR)$(SBINDIR)/mmproxy
	install -m 0755 contrib/mmproxy-routes $(DESTDIR)$(SBINDIR)/mmproxy-routes
	install -m 0644 man/mmproxy.8 $(DESTDIR)$(MANDIR)/man8/mmproxy.8
	@f=$(DESTDIR)$(SYSCONFDIR)/mmproxy/allowed-subnets; \
	if [ -e "$$f" ]; then echo "mmproxy: $$f exists: kept as it is"; \
	else sed -e 's|^\([0-9a-fA-F:]\)|# \1|' examples/allowed-subnets >"$$f" && \
	    chmod 0644 "$$f" && echo "mmproxy: wrote $$f: list your load balancers in it"; fi
endif

# The systemd units, their ExecStart= pointing where make install puts
# the binary (SBINDIR).
install-units:
	install -d $(DESTDIR)$(UNITDIR)
	@for u in examples/*.service examples/*.socket; do \
	    sed -e 's|/usr/local/sbin/|$(SBINDIR)/|g' "$$u" \
	        >"$(DESTDIR)$(UNITDIR)/$${u##*/}" && \
	    chmod 0644 "$(DESTDIR)$(UNITDIR)/$${u##*/}" || exit 1; \
	done
	@echo "mmproxy: units in $(DESTDIR)$(UNITDIR): systemctl daemon-reload, then enable one"

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/mmproxy $(DESTDIR)$(SBINDIR)/mmproxy-routes \
	    $(DESTDIR)$(MANDIR)/man8/mmproxy.8

clean:
	rm -rf build build-san build-static build-musl build-glibc

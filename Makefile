# linkgate: a self-hosted reverse-proxy-over-VPN gateway.
PREFIX ?= /usr/local
DESTDIR ?=
CC ?= cc
CFLAGS ?= -O2
CFLAGS += -std=c11 -Wall -Wextra -Werror -MMD -MP
CPPFLAGS += -D_DEFAULT_SOURCE
LDLIBS_SODIUM = -lsodium
ASAN_FLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=all
FUZZ_CC = clang
FUZZ_FLAGS = -O1 -g -fsanitize=fuzzer,address,undefined
FUZZ_SECONDS ?= 60

B = build
HELPERS = alloc keys routemap
UNITS = alloc keys routemap common
FUZZERS = host key record render
LIBEXEC = $(PREFIX)/lib/linkgate

# Debian packages for building, testing and running the gateway and client.
DEPS = build-essential clang libclang-rt-14-dev libsodium-dev \
	nginx libnginx-mod-stream wireguard-tools wireguard-go iproute2 \
	nftables openssh-server openssh-client caddy pebble curl openssl \
	bats bats-assert bats-support shellcheck procps util-linux

all: $(HELPERS:%=$(B)/%)

$(B) $(B)/asan $(B)/fuzz:
	mkdir -p $@

$(B)/%.o: helpers/%.c | $(B)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<
$(B)/asan/%.o: helpers/%.c | $(B)/asan
	$(CC) $(CPPFLAGS) $(CFLAGS) $(ASAN_FLAGS) -c -o $@ $<

$(B)/alloc $(B)/routemap: $(B)/%: $(B)/%.o $(B)/common.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^
$(B)/keys: $(B)/keys.o $(B)/common.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS_SODIUM)
$(B)/asan/alloc $(B)/asan/routemap: $(B)/asan/%: $(B)/asan/%.o \
		$(B)/asan/common.o
	$(CC) $(CFLAGS) $(ASAN_FLAGS) $(LDFLAGS) -o $@ $^
$(B)/asan/keys: $(B)/asan/keys.o $(B)/asan/common.o
	$(CC) $(CFLAGS) $(ASAN_FLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS_SODIUM)

# Native tests include the helper's .c file to reach its static functions.
$(B)/test_%: test/unit/test_%.c test/unit/check.h $(B)/common.o
	$(CC) $(CPPFLAGS) $(CFLAGS) -Ihelpers -o $@ $< $(B)/common.o \
		$(LDLIBS_SODIUM)
$(B)/asan/test_%: test/unit/test_%.c test/unit/check.h $(B)/asan/common.o
	$(CC) $(CPPFLAGS) $(CFLAGS) $(ASAN_FLAGS) -Ihelpers -o $@ $< \
		$(B)/asan/common.o $(LDLIBS_SODIUM)

$(B)/fuzz/fuzz_%: test/fuzz/fuzz_%.c helpers/common.c | $(B)/fuzz
	$(FUZZ_CC) $(CPPFLAGS) -std=c11 -Wall -Wextra -Werror $(FUZZ_FLAGS) \
		-Ihelpers -o $@ $< helpers/common.c $(LDLIBS_SODIUM)

check-build: all $(HELPERS:%=$(B)/asan/%) $(UNITS:%=$(B)/test_%) \
	$(UNITS:%=$(B)/asan/test_%) $(FUZZERS:%=$(B)/fuzz/fuzz_%)

test: check-build
	sh test/run

fuzz: $(FUZZERS:%=$(B)/fuzz/fuzz_%)
	sh test/fuzz/run $(FUZZ_SECONDS)

deps:
	@sh test/deps $(DEPS)

install: all
	install -d -m 0755 $(DESTDIR)$(LIBEXEC) $(DESTDIR)$(LIBEXEC)/templates
	install -m 0755 $(HELPERS:%=$(B)/%) $(DESTDIR)$(LIBEXEC)/
	for f in templates/*; do [ -f "$$f" ] && \
		install -m 0644 "$$f" $(DESTDIR)$(LIBEXEC)/templates/; done; true

uninstall:
	rm -f $(HELPERS:%=$(DESTDIR)$(LIBEXEC)/%)
	rm -rf $(DESTDIR)$(LIBEXEC)/templates
	-rmdir $(DESTDIR)$(LIBEXEC)

clean:
	rm -rf $(B)

-include $(B)/*.d $(B)/asan/*.d

.PHONY: all check-build test fuzz deps install uninstall clean

# linkgate: a self-hosted reverse-proxy-over-VPN gateway.
PREFIX ?= /usr/local
DESTDIR ?=
CC ?= cc
CFLAGS ?= -O2
CFLAGS += -std=c11 -Wall -Wextra -Werror -MMD -MP
CPPFLAGS += -D_DEFAULT_SOURCE
LDLIBS_SODIUM = -lsodium
LDLIBS_NFT = -lnftables
ASAN_FLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=all
FUZZ_CC = clang
FUZZ_FLAGS = -O1 -g -fsanitize=fuzzer,address,undefined
FUZZ_SECONDS ?= 60

B = build
# The helper programs (not HELPERS: that is the gateway setting, and make
# passes a variable that came from the environment on with its own value).
PROGS = alloc health keys nsstate probe record routemap routes tunfd
UNITS = alloc keys record routes common
FUZZERS = host ip6 key record route
LIBEXEC = $(PREFIX)/lib/linkgate

# Debian packages for building, testing and running the gateway and client.
DEPS = build-essential clang libclang-rt-14-dev libsodium-dev libnftables-dev \
	nginx libnginx-mod-stream libnginx-mod-stream-js libnginx-mod-http-js \
	wireguard-tools wireguard-go iproute2 \
	nftables openssh-server openssh-client caddy pebble curl openssl \
	iputils-ping bats bats-assert bats-support shellcheck procps ethtool \
	util-linux python3 wrk iperf3 docker.io docker-compose debootstrap systemd \
	logrotate jq prometheus prometheus-node-exporter strace conntrack

all: $(PROGS:%=$(B)/%)

$(B) $(B)/asan $(B)/fuzz:
	mkdir -p $@

$(B)/%.o: helpers/%.c | $(B)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<
$(B)/asan/%.o: helpers/%.c | $(B)/asan
	$(CC) $(CPPFLAGS) $(CFLAGS) $(ASAN_FLAGS) -c -o $@ $<

$(B)/alloc $(B)/health $(B)/probe $(B)/routemap $(B)/tunfd: $(B)/%: $(B)/%.o $(B)/common.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^
$(B)/record $(B)/routes: $(B)/%: $(B)/%.o $(B)/linkrec.o $(B)/common.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^
$(B)/keys: $(B)/keys.o $(B)/common.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS_SODIUM)
$(B)/nsstate: $(B)/nsstate.o $(B)/common.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS_NFT)
$(B)/asan/alloc $(B)/asan/health $(B)/asan/probe $(B)/asan/routemap $(B)/asan/tunfd: $(B)/asan/%: \
		$(B)/asan/%.o $(B)/asan/common.o
	$(CC) $(CFLAGS) $(ASAN_FLAGS) $(LDFLAGS) -o $@ $^
$(B)/asan/record $(B)/asan/routes: $(B)/asan/%: $(B)/asan/%.o \
		$(B)/asan/linkrec.o $(B)/asan/common.o
	$(CC) $(CFLAGS) $(ASAN_FLAGS) $(LDFLAGS) -o $@ $^
$(B)/asan/keys: $(B)/asan/keys.o $(B)/asan/common.o
	$(CC) $(CFLAGS) $(ASAN_FLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS_SODIUM)
$(B)/asan/nsstate: $(B)/asan/nsstate.o $(B)/asan/common.o
	$(CC) $(CFLAGS) $(ASAN_FLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS_NFT)

# Native tests include the helper's .c file to reach its static functions.
$(B)/test_%: test/unit/test_%.c test/unit/check.h $(B)/common.o \
		$(B)/linkrec.o
	$(CC) $(CPPFLAGS) $(CFLAGS) -Ihelpers -o $@ $< $(B)/common.o \
		$(B)/linkrec.o $(LDLIBS_SODIUM)
$(B)/asan/test_%: test/unit/test_%.c test/unit/check.h $(B)/asan/common.o \
		$(B)/asan/linkrec.o
	$(CC) $(CPPFLAGS) $(CFLAGS) $(ASAN_FLAGS) -Ihelpers -o $@ $< \
		$(B)/asan/common.o $(B)/asan/linkrec.o $(LDLIBS_SODIUM)

$(B)/fuzz/fuzz_%: test/fuzz/fuzz_%.c helpers/common.c helpers/linkrec.c \
		| $(B)/fuzz
	$(FUZZ_CC) $(CPPFLAGS) -std=c11 -Wall -Wextra -Werror $(FUZZ_FLAGS) \
		-Ihelpers -o $@ $< helpers/common.c helpers/linkrec.c \
		$(LDLIBS_SODIUM)

# The gateway (see README): as root on the public host.
GATEWAY_DEPS = build-essential libsodium-dev libnftables-dev nginx \
	libnginx-mod-stream libnginx-mod-stream-js libnginx-mod-http-js \
	wireguard-tools iproute2 nftables openssh-server util-linux logrotate \
	jq openssl conntrack
setup:
	@sh gateway/deps $(GATEWAY_DEPS) $$(ip link add lgprobe0 type wireguard \
		2>/dev/null && ip link del lgprobe0 || echo wireguard-go)
	$(MAKE) all
	# PUBLIC_HOST reaches the command in the environment: an IPv6 address
	# in brackets pasted into the shell line would be a glob pattern.
	gateway/linkgate setup $(if $(PUBLIC_HOST),--public-host "$$PUBLIC_HOST")

gateway: all
	gateway/linkgate start

gateway-down:
	gateway/linkgate down

# LINKS, MAX_LIFETIME and PUBLISH_PORTS reach the command in the environment, never
# pasted into a shell line.
authorize: all
	gateway/linkgate authorize "$(KEY)" "$(NAME)" "$(DOMAINS)" \
		$(if $(ADMIN),--admin) $(if $(LINKS),--links "$$LINKS") \
		$(if $(MAX_LIFETIME),--max-lifetime "$$MAX_LIFETIME") \
		$(if $(PUBLISH_PORTS),--publish-ports "$$PUBLISH_PORTS")

# LINKS=remove also removes every link of the key.
revoke:
	gateway/linkgate revoke "$(NAME)" $(if $(LINKS),--links "$$LINKS")

# The home side: create, remove and list links over ssh.
# Variables reach bin/link in the environment, never pasted into a shell
# line: GATEWAY FQDN EXPOSE MTU WILDCARD REPLACE FORMAT INLINE FORCE
# SSH_KEY KNOWN_HOSTS SSH_OPTS LINK_DIR ALLOW EXPIRES PUBLISH IPV6.
link: all
	bin/link -- "$$GATEWAY" "$$FQDN" "$$EXPOSE"

unlink: all
	bin/link --remove -- "$$GATEWAY" "$$FQDN"

links: all
	bin/link --list -- "$$GATEWAY"

# New keys for the link of FQDN's .env (in LINK_DIR), same port and
# addresses; the running link client is told with SIGHUP.
rotate: all
	bin/link --rotate -- "$$GATEWAY" "$$FQDN"

# The demo (see README): everything in namespaces and $(DEMO_DIR).
DEMO_DEPS = build-essential libsodium-dev libnftables-dev nginx \
	libnginx-mod-stream libnginx-mod-stream-js libnginx-mod-http-js \
	wireguard-tools iproute2 nftables openssh-server openssh-client caddy \
	pebble curl openssl iputils-ping procps util-linux
demo:
	@sh gateway/deps $(DEMO_DEPS) $$(ip link add lgprobe0 type wireguard \
		2>/dev/null && ip link del lgprobe0 || echo wireguard-go)
	@$(MAKE) -s all
	@bash demo/run up

demo-down:
	@bash demo/run down

# Benchmarks (see README): a markdown table to stdout and
# bench/results/latest.md; QUICK=1 is a smoke run, RESTORE_ONLY=1 only the
# restore rows (RESTORE="10 100 1000", the link counts), ADD_ONLY=1 only the
# link add rows (ADD_AT="10 1000 10000"), HEALTH_ONLY=1 only the health
# rounds (HEALTH_DOWN="1000", HEALTH_UP="10 100"), HTTPS_ONLY=1 only the
# project's HTTPS row and the hand-built one, in turns (ROUNDS=3).
bench:
	@sh gateway/deps $(DEMO_DEPS) wrk iperf3 $$(ip link add lgprobe0 \
		type wireguard 2>/dev/null && ip link del lgprobe0 || echo wireguard-go)
	@$(MAKE) -s all
	@QUICK=$(QUICK) RESTORE_ONLY=$(RESTORE_ONLY) ADD_ONLY=$(ADD_ONLY) \
		HTTPS_ONLY=$(HTTPS_ONLY) $(if $(ROUNDS),ROUNDS="$(ROUNDS)") \
		$(if $(RESTORE),RESTORE="$(RESTORE)") $(if $(ADD_AT),ADD_AT="$(ADD_AT)") \
		HEALTH_ONLY=$(HEALTH_ONLY) $(if $(HEALTH_DOWN),HEALTH_DOWN="$(HEALTH_DOWN)") \
		$(if $(HEALTH_UP),HEALTH_UP="$(HEALTH_UP)") bash bench/run

# The client image (needs a Docker engine; see client/Dockerfile).
docker:
	docker build -f client/Dockerfile -t linkgate/client:latest .

# debian:12-slim for make docker where Docker Hub is out of reach: made with
# debootstrap from this machine's apt mirror (as test/docker.bats does).
docker-base: | $(B)
	@sh gateway/deps debootstrap
	client/debian-base $(B)/debian-12-slim.tar
	docker import $(B)/debian-12-slim.tar debian:12-slim
	rm -f $(B)/debian-12-slim.tar

check-build: all $(PROGS:%=$(B)/asan/%) $(UNITS:%=$(B)/test_%) \
	$(UNITS:%=$(B)/asan/test_%) $(FUZZERS:%=$(B)/fuzz/fuzz_%)

# make test installs what it needs first (quick when all is there), so it
# works alone on a fresh machine.
test: deps
	$(MAKE) check-build
	sh test/run

fuzz: $(FUZZERS:%=$(B)/fuzz/fuzz_%)
	sh test/fuzz/run $(FUZZ_SECONDS)

deps:
	@sh gateway/deps $(DEPS)

install: all
	install -d -m 0755 $(DESTDIR)$(LIBEXEC)/build $(DESTDIR)$(LIBEXEC)/gateway \
		$(DESTDIR)$(LIBEXEC)/templates $(DESTDIR)$(LIBEXEC)/bin \
		$(DESTDIR)$(LIBEXEC)/client $(DESTDIR)$(PREFIX)/bin \
		$(DESTDIR)/etc/systemd/system
	install -m 0755 $(PROGS:%=$(B)/%) $(DESTDIR)$(LIBEXEC)/build/
	install -m 0755 gateway/linkgate gateway/ssh-command gateway/deps \
		$(DESTDIR)$(LIBEXEC)/gateway/
	install -m 0644 gateway/lib.sh $(DESTDIR)$(LIBEXEC)/gateway/
	install -m 0644 templates/* $(DESTDIR)$(LIBEXEC)/templates/
	install -m 0755 bin/link $(DESTDIR)$(LIBEXEC)/bin/
	install -m 0755 client/link-client $(DESTDIR)$(LIBEXEC)/client/
	install -m 0644 client/home.sh $(DESTDIR)$(LIBEXEC)/client/
	ln -sf $(LIBEXEC)/bin/link $(DESTDIR)$(PREFIX)/bin/linkgate-link
	ln -sf $(LIBEXEC)/client/link-client $(DESTDIR)$(PREFIX)/bin/link-client
	sed 's|@LINK_CLIENT@|$(LIBEXEC)/client/link-client|' \
		templates/link-client@.service \
		>$(DESTDIR)/etc/systemd/system/link-client@.service

uninstall:
	-systemctl disable --now linkgate.service 2>/dev/null
	-systemctl disable --now linkgate-check.timer 2>/dev/null
	-systemctl disable --now linkgate-health.timer 2>/dev/null
	-systemctl disable --now linkgate-expire.timer 2>/dev/null
	rm -f $(DESTDIR)/etc/systemd/system/linkgate.service \
		$(DESTDIR)/etc/systemd/system/linkgate-check.service \
		$(DESTDIR)/etc/systemd/system/linkgate-check.timer \
		$(DESTDIR)/etc/systemd/system/linkgate-health.service \
		$(DESTDIR)/etc/systemd/system/linkgate-health.timer \
		$(DESTDIR)/etc/systemd/system/linkgate-expire.service \
		$(DESTDIR)/etc/systemd/system/linkgate-expire.timer \
		$(DESTDIR)/etc/systemd/system/link-client@.service \
		$(DESTDIR)$(PREFIX)/bin/linkgate-link $(DESTDIR)$(PREFIX)/bin/link-client
	rm -rf $(DESTDIR)$(LIBEXEC)

clean:
	rm -rf $(B)

-include $(B)/*.d $(B)/asan/*.d

.PHONY: bench demo demo-down docker docker-base link unlink links rotate setup gateway gateway-down authorize revoke all check-build test fuzz deps install uninstall clean

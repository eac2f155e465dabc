/* probe: the health probes of a health round, every link at once in one
 * process (a probe by curl and openssl cost ~5 process spawns a link,
 * ~1.7 ms each here, and ran 64 at a time: 1,000 homes that just went
 * down took 32 s of 2 s timeouts). Reads lines
 *
 *   NAME<TAB>NS<TAB>ADDRESS[<TAB>ADDRESS6]
 *
 * (a link's name, its network namespace under /run/netns, its home's
 * tunnel address, and its IPv6 one when the home asked for IPv6) and
 * probes each from inside NS, at most JOBS links at once (of them at
 * most TLS_JOBS in step 2), each step given SECONDS:
 *
 * 1. the health path: a TCP connection to ADDRESS:8080 (a socket made in
 *    NS by setns(2); it stays there), "GET /.well-known/gateway/health"
 *    over HTTP/1.1 and its status line. Any HTTP status is an answer (as
 *    for curl without -f); LATENCY is the time to the status line.
 * 1b. with ADDRESS6, when the health path answered: a TCP connection to
 *    [ADDRESS6]:8443, where the link's IPv6 visitors on :443 go; one not
 *    made gives REASON "IPv6: ..." (the TLS step still runs).
 * 2. when that answered, a TLS handshake with ADDRESS:8443 for NAME by
 *    "openssl s_client -servername NAME -verify_hostname NAME", run in
 *    NS (one exec: no nsenter or timeout around it; killed at the
 *    deadline). From its output (OpenSSL 3.0's apps/s_client.c and
 *    apps/lib/s_cb.c): "issuer=" the certificate's issuer, the first
 *    "v:NotBefore: ...; NotAfter: DATE" line the leaf's expiry, and
 *    "verify error:num=62:" X509_V_ERR_HOSTNAME_MISMATCH, the same
 *    X509_check_host test as "openssl x509 -checkhost". No trust store
 *    is loaded (SSL_CERT_FILE=/dev/null): the probe reports what the home
 *    serves, it does not judge its issuer, and loading the system's
 *    ~150 roots cost openssl ~17 ms a run.
 *
 * Writes one line per link as its probe ends (in no fixed order):
 *
 *   NAME START END REASON HTTP LATENCY TLS ISSUER EXPIRES NAME_MATCH
 *
 * tab-separated: START and END in ns since the epoch, REASON empty when
 * the health path answered (else "health path: connection refused",
 * "... no answer in N s", "... empty reply", "... connection reset",
 * "... not an HTTP answer", or an errno text), HTTP the status, LATENCY
 * in seconds, TLS ok or failed, ISSUER printable ASCII (at most 200
 * characters), EXPIRES in seconds since the epoch, NAME_MATCH yes or no;
 * empty fields for what was not reached.
 *
 * Exit: 0 ok (whatever the homes answered), 1 failed, 2 usage. */
#define _GNU_SOURCE
#include "common.h"

#include <arpa/inet.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HTTP_PORT 8080
#define TLS_PORT 8443
#define LINKS_MAX 65536
#define LINE_MAX_LEN 512
#define NS_NAME_MAX 64
#define JOBS_MAX 1024
#define TIMEOUT_MAX 60
#define ANSWER_MAX 1024		/* bytes of the HTTP answer looked at */
#define TLS_OUT_MAX 65536	/* bytes of openssl's output kept */
#define ISSUER_MAX 200

struct link {
	char name[HOST_MAX + 1];
	char ns[NS_NAME_MAX + 1];
	struct in_addr addr;
	int has6;
	struct in6_addr addr6;
};

enum step { IDLE, CONNECTING, READING, V6_WAIT, V6_CONNECTING, TLS_WAIT, TLS };

struct slot {
	enum step step;
	const struct link *l;
	int fd;
	pid_t pid;
	long long start, deadline, answered;
	int http;
	char why6[96];	/* why [ADDRESS6]:8443 failed; "" answered */
	struct buf in;
};

static unsigned timeout_s = 2;
/* openssl processes at once: their work is CPU (~10 ms a handshake
 * here), so a few a core; the links waiting for one hold their slot. */
static unsigned tls_jobs, tls_running;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: probe [-t SECONDS] [-j JOBS] [-J TLS_JOBS]\n"
		"Reads lines NAME<TAB>NS<TAB>ADDRESS[<TAB>ADDRESS6] and probes\n"
		"each link from its network namespace /run/netns/NS: its home's\n"
		"health path on ADDRESS:8080, a connection to [ADDRESS6]:8443\n"
		"(with ADDRESS6), then a TLS handshake on ADDRESS:8443 for NAME.\n"
		"At most JOBS links at once (1-1024, default 64), of them at\n"
		"most TLS_JOBS in their TLS handshake (1-1024, default 4 a\n"
		"core), each step given SECONDS (1-60, default 2). One line\n"
		"per link out:\n"
		"NAME START END REASON HTTP LATENCY TLS ISSUER EXPIRES\n"
		"NAME_MATCH, tab-separated (see the comment in probe.c).\n"
		"Exit: 0 ok, 1 failed, 2 usage.\n");
}

static long long now_ns(int clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* A namespace name as ip netns makes them: letters, digits, '-', '_'. */
static int ns_valid(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > NS_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
			return 0;
	return 1;
}

/* One input line into l. Returns NULL, or why it is refused. */
static const char *line_parse(char *line, size_t len, struct link *l)
{
	char *t1, *t2, *t3, addr[INET6_ADDRSTRLEN];
	const char *why;
	size_t n;

	if (memchr(line, '\0', len))
		return "a NUL byte";
	t1 = memchr(line, '\t', len);
	if (!t1)
		return "not NAME<TAB>NS<TAB>ADDRESS";
	t2 = memchr(t1 + 1, '\t', len - (size_t)(t1 + 1 - line));
	if (!t2)
		return "not NAME<TAB>NS<TAB>ADDRESS";
	why = host_check(line, (size_t)(t1 - line), l->name);
	if (why)
		return why;
	n = (size_t)(t2 - t1 - 1);
	if (!ns_valid(t1 + 1, n))
		return "bad namespace name";
	memcpy(l->ns, t1 + 1, n);
	l->ns[n] = '\0';
	t3 = memchr(t2 + 1, '\t', len - (size_t)(t2 + 1 - line));
	n = (size_t)((t3 ? t3 : line + len) - (t2 + 1));
	if (n == 0 || n >= INET_ADDRSTRLEN)
		return "bad IPv4 address";
	memcpy(addr, t2 + 1, n);
	addr[n] = '\0';
	if (inet_pton(AF_INET, addr, &l->addr) != 1)
		return "bad IPv4 address";
	l->has6 = 0;
	if (!t3)
		return NULL;
	n = len - (size_t)(t3 + 1 - line);
	if (n == 0 || n >= sizeof(addr))
		return "bad IPv6 address";
	memcpy(addr, t3 + 1, n);
	addr[n] = '\0';
	if (inet_pton(AF_INET6, addr, &l->addr6) != 1)
		return "bad IPv6 address";
	l->has6 = 1;
	return NULL;
}

/* Every line of stdin, validated before any probe. Exit 1 on a bad one
 * (what was read freed first). */
static struct link *links_read(size_t *count)
{
	struct link *v = NULL, *w;
	size_t n = 0, cap = 0, len;
	char line[LINE_MAX_LEN + 2], shown[80], why_buf[160];
	const char *why = NULL;

	while (!why && fgets(line, sizeof(line), stdin)) {
		len = strlen(line);
		if (len > 0 && line[len - 1] == '\n') {
			line[--len] = '\0';
		} else if (!feof(stdin)) {
			snprintf(why_buf, sizeof(why_buf), "line %zu: longer than %d bytes",
				 n + 1, LINE_MAX_LEN);
			why = why_buf;
			break;
		}
		if (n == LINKS_MAX) {
			why = "more than 65536 links";
			break;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			w = realloc(v, cap * sizeof(*v));
			if (!w) {
				why = "out of memory";
				break;
			}
			v = w;
		}
		why = line_parse(line, len, &v[n]);
		if (why) {
			snprintf(why_buf, sizeof(why_buf), "line %zu '%s': %s", n + 1,
				 printable(line, shown, sizeof(shown)), why);
			why = why_buf;
			break;
		}
		n++;
	}
	if (!why && ferror(stdin))
		why = "cannot read stdin";
	if (why) {
		free(v);
		errx(EXIT_REFUSED, "%s", why);
	}
	*count = n;
	return v;
}

/* Opens /run/netns/NS. Returns the descriptor, or -1 with errno set. */
static int ns_open(const char *ns)
{
	char path[sizeof("/run/netns/") + NS_NAME_MAX];

	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	return open(path, O_RDONLY | O_CLOEXEC);
}

/* A non-blocking TCP socket of family (AF_INET or AF_INET6) made inside
 * the namespace NS, back in ours
 * (home, our own namespace) after. Returns it, or -1 with errno set. */
static int socket_in(const char *ns, int home, int family)
{
	int nsfd, fd, saved;

	nsfd = ns_open(ns);
	if (nsfd < 0)
		return -1;
	if (setns(nsfd, CLONE_NEWNET) < 0) {
		saved = errno;
		close(nsfd);
		errno = saved;
		return -1;
	}
	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	saved = errno;
	close(nsfd);
	if (setns(home, CLONE_NEWNET) < 0)
		err(EXIT_REFUSED, "cannot return to our network namespace");
	errno = saved;
	return fd;
}

/* Cleans s in place: printable ASCII (a tab or anything else becomes a
 * space), at most ISSUER_MAX characters: the issuer is the home's to
 * choose. */
static void clean(char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			s[i] = ' ';
	if (i > ISSUER_MAX)
		s[ISSUER_MAX] = '\0';
}

/* Parses openssl's "Dec  4 13:42:01 2026 GMT". Returns seconds since the
 * epoch, or -1. */
static long long date_parse(const char *s)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%b %e %H:%M:%S %Y GMT", &tm);
	if (!end || (*end != '\0' && *end != ';' && *end != ' '))
		return -1;
	return (long long)timegm(&tm);
}

/* The TLS fields of openssl's output (NUL-terminated) on out. */
static void tls_report(char *text, FILE *out)
{
	char *line, *next, *p, issuer[ISSUER_MAX + 1] = "";
	long long expires = -1;
	int ok = 0, mismatch = 0;

	for (line = text; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (strncmp(line, "issuer=", 7) == 0 && !ok) {
			ok = 1;
			snprintf(issuer, sizeof(issuer), "%s", line + 7);
			clean(issuer);
		} else if (expires < 0 && (p = strstr(line, "v:NotBefore: ")) &&
			   (p = strstr(p, "; NotAfter: "))) {
			expires = date_parse(p + strlen("; NotAfter: "));
		} else if (strncmp(line, "verify error:num=62:", 20) == 0) {
			mismatch = 1;
		}
	}
	if (!ok) {
		fputs("failed\t\t\t", out);
		return;
	}
	fprintf(out, "ok\t%s\t", issuer);
	if (expires >= 0)
		fprintf(out, "%lld", expires);
	fprintf(out, "\t%s", mismatch ? "no" : "yes");
}

/* Ends slot s's probe: its line on out, its resources freed. */
static void slot_end(struct slot *s, const char *reason, FILE *out)
{
	long long end = now_ns(CLOCK_REALTIME);
	long long mono = now_ns(CLOCK_MONOTONIC);

	fprintf(out, "%s\t%lld\t%lld\t%s\t", s->l->name,
		end - (mono - s->start), end, reason ? reason : s->why6);
	if (s->http) {
		fprintf(out, "%d\t%lld.%03lld\t", s->http,
			(s->answered - s->start) / 1000000000LL,
			(s->answered - s->start) / 1000000LL % 1000);
		/* openssl's output so far, NUL-terminated (a handshake cut
		 * at the deadline may have printed nothing). */
		if (s->step == TLS && buf_add(&s->in, "", 1) == 0)
			tls_report(s->in.data, out);
		else
			fputs("failed\t\t\t", out);
	} else {
		fputs("\t\t\t\t\t", out);
	}
	fputc('\n', out);
	if (s->fd >= 0)
		close(s->fd);
	if (s->step == TLS)
		tls_running--;
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	buf_free(&s->in);
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->step = IDLE;
}

/* Starts the health path's connection of link l in slot s; a failure
 * at once ends it. */
static void http_start(struct slot *s, const struct link *l, int home,
		       FILE *out)
{
	struct sockaddr_in sa;
	char why[160];

	s->l = l;
	s->start = now_ns(CLOCK_MONOTONIC);
	s->deadline = s->start + (long long)timeout_s * 1000000000LL;
	s->fd = socket_in(l->ns, home, AF_INET);
	if (s->fd < 0) {
		snprintf(why, sizeof(why), "health path: namespace %s: %s", l->ns,
			 strerror(errno));
		slot_end(s, why, out);
		return;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(HTTP_PORT);
	sa.sin_addr = l->addr;
	s->step = CONNECTING;
	if (connect(s->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
	    errno != EINPROGRESS) {
		snprintf(why, sizeof(why), "health path: %s",
			 errno == ECONNREFUSED ? "connection refused" : strerror(errno));
		slot_end(s, why, out);
	}
}

/* Step 1b ends: e the connection's error (0 made, -1 no answer in time);
 * the TLS step next. */
static void v6_end(struct slot *s, int e)
{
	if (e < 0)
		snprintf(s->why6, sizeof(s->why6),
			 "IPv6: no answer on port %d in %u s", TLS_PORT, timeout_s);
	else if (e)
		snprintf(s->why6, sizeof(s->why6), "IPv6: port %d: %s", TLS_PORT,
			 e == ECONNREFUSED ? "connection refused" : strerror(e));
	close(s->fd);
	s->fd = -1;
	s->step = TLS_WAIT;
}

/* Step 1b's connection is made (or failed). */
static void v6_done(struct slot *s)
{
	int e = 0;
	socklen_t el = sizeof(e);

	if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
		e = errno;
	v6_end(s, e);
}

/* Step 1b: the connection to [ADDRESS6]:8443 of slot s's link; a
 * failure at once notes why and goes on to the TLS step. */
static void v6_start(struct slot *s, int home)
{
	struct sockaddr_in6 sa;

	s->deadline = now_ns(CLOCK_MONOTONIC) + (long long)timeout_s * 1000000000LL;
	s->fd = socket_in(s->l->ns, home, AF_INET6);
	if (s->fd < 0) {
		snprintf(s->why6, sizeof(s->why6), "IPv6: namespace %s: %s",
			 s->l->ns, strerror(errno));
		s->step = TLS_WAIT;
		return;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sin6_family = AF_INET6;
	sa.sin6_port = htons(TLS_PORT);
	sa.sin6_addr = s->l->addr6;
	s->step = V6_CONNECTING;
	if (connect(s->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
	    errno != EINPROGRESS)
		v6_end(s, errno);
}

/* The connection is made (or failed): sends the request. */
static void http_send(struct slot *s, FILE *out)
{
	char req[160], addr[INET_ADDRSTRLEN], why[160];
	int e = 0, n;
	socklen_t el = sizeof(e);

	if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
		e = errno;
	if (e) {
		snprintf(why, sizeof(why), "health path: %s",
			 e == ECONNREFUSED ? "connection refused" : strerror(e));
		slot_end(s, why, out);
		return;
	}
	inet_ntop(AF_INET, &s->l->addr, addr, sizeof(addr));
	n = snprintf(req, sizeof(req),
		     "GET /.well-known/gateway/health HTTP/1.1\r\n"
		     "Host: %s:%d\r\nUser-Agent: linkgate-probe\r\n"
		     "Connection: close\r\n\r\n", addr, HTTP_PORT);
	/* A fresh socket's send buffer takes these ~120 bytes at once. */
	if (send(s->fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
		snprintf(why, sizeof(why), "health path: %s",
			 errno == ECONNRESET ? "connection reset" : strerror(errno));
		slot_end(s, why, out);
		return;
	}
	s->step = READING;
}

/* The status code of an answer's first line "HTTP/1.x NNN ...", or 0. */
static int status_parse(const char *p, size_t len)
{
	if (len < 12 || memcmp(p, "HTTP/1.", 7) != 0 ||
	    (p[7] != '0' && p[7] != '1') || p[8] != ' ')
		return 0;
	if (p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9' ||
	    p[11] < '0' || p[11] > '9')
		return 0;
	return (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
}

/* Starts openssl s_client in the link's namespace, its stdout and stderr
 * into a pipe read by slot s. */
static void tls_start(struct slot *s, FILE *out)
{
	char connect_to[INET_ADDRSTRLEN + 8], addr[INET_ADDRSTRLEN];
	int p[2], nsfd, devnull;

	s->step = TLS;
	tls_running++;
	s->in.len = 0;
	s->deadline = now_ns(CLOCK_MONOTONIC) + (long long)timeout_s * 1000000000LL;
	inet_ntop(AF_INET, &s->l->addr, addr, sizeof(addr));
	snprintf(connect_to, sizeof(connect_to), "%s:%d", addr, TLS_PORT);
	nsfd = ns_open(s->l->ns);
	if (nsfd < 0 || pipe2(p, O_CLOEXEC) < 0) {
		if (nsfd >= 0)
			close(nsfd);
		slot_end(s, NULL, out);
		return;
	}
	fflush(out);
	s->pid = fork();
	if (s->pid == 0) {
		devnull = open("/dev/null", O_RDWR);
		if (devnull < 0 || setns(nsfd, CLONE_NEWNET) < 0 ||
		    dup2(devnull, 0) < 0 || dup2(p[1], 1) < 0 || dup2(p[1], 2) < 0)
			_exit(127);
		setenv("SSL_CERT_FILE", "/dev/null", 1);
		setenv("SSL_CERT_DIR", "/nonexistent", 1);
		execlp("openssl", "openssl", "s_client", "-connect", connect_to,
		       "-servername", s->l->name, "-verify_hostname", s->l->name,
		       (char *)NULL);
		_exit(127);
	}
	close(nsfd);
	close(p[1]);
	if (s->pid < 0) {
		s->pid = 0;
		close(p[0]);
		slot_end(s, NULL, out);
		return;
	}
	s->fd = p[0];
	fcntl(s->fd, F_SETFL, O_NONBLOCK);
}

/* Data (or the end) on slot s's descriptor. */
static void slot_read(struct slot *s, FILE *out)
{
	char b[4096], why[160];
	ssize_t r;

	r = read(s->fd, b, sizeof(b));
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (s->step == TLS) {
		if (r > 0) {
			if (s->in.len + (size_t)r <= TLS_OUT_MAX &&
			    buf_add(&s->in, b, (size_t)r) < 0)
				err(EXIT_REFUSED, "memory");
			return;
		}
		slot_end(s, NULL, out);
		return;
	}
	if (r < 0) {
		snprintf(why, sizeof(why), "health path: %s",
			 errno == ECONNRESET ? "connection reset" : strerror(errno));
		slot_end(s, why, out);
		return;
	}
	if (r == 0) {
		slot_end(s, s->in.len ? "health path: not an HTTP answer"
				       : "health path: empty reply", out);
		return;
	}
	if (buf_add(&s->in, b, (size_t)r) < 0)
		err(EXIT_REFUSED, "memory");
	if (!memchr(s->in.data, '\n', s->in.len)) {
		if (s->in.len >= ANSWER_MAX)
			slot_end(s, "health path: not an HTTP answer", out);
		return;
	}
	s->http = status_parse(s->in.data, s->in.len);
	if (!s->http) {
		slot_end(s, "health path: not an HTTP answer", out);
		return;
	}
	s->answered = now_ns(CLOCK_MONOTONIC);
	close(s->fd);
	s->fd = -1;
	s->step = s->l->has6 ? V6_WAIT : TLS_WAIT;
}

/* Raises the soft limit on open files to fit jobs sockets and the TLS
 * pipes. Returns jobs, or fewer when the hard limit is lower. */
static unsigned files_limit(unsigned jobs)
{
	struct rlimit r;
	rlim_t want = (rlim_t)jobs + tls_jobs + 32;

	if (getrlimit(RLIMIT_NOFILE, &r) < 0 || r.rlim_cur >= want)
		return jobs;
	r.rlim_cur = r.rlim_max < want ? r.rlim_max : want;
	if (setrlimit(RLIMIT_NOFILE, &r) < 0 && getrlimit(RLIMIT_NOFILE, &r) < 0)
		return jobs;
	if (r.rlim_cur >= want)
		return jobs;
	return r.rlim_cur > tls_jobs + 40 ? (unsigned)(r.rlim_cur - tls_jobs - 32) : 8;
}

/* Probes every link, at most jobs at once. */
static void probe_all(const struct link *v, size_t n, unsigned jobs, FILE *out)
{
	struct slot *slots = calloc(jobs, sizeof(*slots));
	struct pollfd *pfd = calloc(jobs, sizeof(*pfd));
	size_t next = 0, active, i;
	long long t, wait_ms;
	char why[80];
	int home, k;

	if (!slots || !pfd)
		err(EXIT_REFUSED, "memory");
	home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (home < 0)
		err(EXIT_REFUSED, "/proc/self/ns/net");
	for (i = 0; i < jobs; i++)
		slots[i].fd = -1;
	snprintf(why, sizeof(why), "health path: no answer in %u s", timeout_s);
	for (;;) {
		for (i = 0; i < jobs && next < n; i++)
			if (slots[i].step == IDLE)
				http_start(&slots[i], &v[next++], home, out);
		active = 0;
		t = now_ns(CLOCK_MONOTONIC);
		wait_ms = 1000;
		for (i = 0; i < jobs; i++)
			if (slots[i].step == V6_WAIT)
				v6_start(&slots[i], home);
		for (i = 0; i < jobs && tls_running < tls_jobs; i++)
			if (slots[i].step == TLS_WAIT)
				tls_start(&slots[i], out);
		t = now_ns(CLOCK_MONOTONIC);
		for (i = 0; i < jobs; i++) {
			pfd[i].fd = -1;
			pfd[i].revents = 0;
			if (slots[i].step == IDLE)
				continue;
			if (slots[i].step == TLS_WAIT) {
				active++;
				continue;
			}
			if (slots[i].deadline <= t && slots[i].step == V6_CONNECTING) {
				/* On to its TLS step, without a wait in poll. */
				v6_end(&slots[i], -1);
				active++;
				wait_ms = 0;
				continue;
			}
			if (slots[i].deadline <= t) {
				slot_end(&slots[i], slots[i].step == TLS ? NULL : why, out);
				continue;
			}
			active++;
			pfd[i].fd = slots[i].fd;
			pfd[i].events = slots[i].step == CONNECTING ||
					slots[i].step == V6_CONNECTING ? POLLOUT : POLLIN;
			if ((slots[i].deadline - t) / 1000000 + 1 < wait_ms)
				wait_ms = (slots[i].deadline - t) / 1000000 + 1;
		}
		if (active == 0) {
			if (next < n)
				continue;
			break;
		}
		k = poll(pfd, jobs, (int)wait_ms);
		if (k < 0 && errno != EINTR)
			err(EXIT_REFUSED, "poll");
		for (i = 0; k > 0 && i < jobs; i++) {
			if (pfd[i].fd < 0 || !pfd[i].revents)
				continue;
			if (slots[i].step == CONNECTING)
				http_send(&slots[i], out);
			else if (slots[i].step == V6_CONNECTING)
				v6_done(&slots[i]);
			else
				slot_read(&slots[i], out);
		}
	}
	close(home);
	free(slots);
	free(pfd);
}

int main(int argc, char **argv)
{
	unsigned long jobs = 64, secs = 2, tjobs = 0;
	long cpus;
	struct link *v;
	size_t n;
	int c;

	if (argc == 2 && (strcmp(argv[1], "-h") == 0 ||
			  strcmp(argv[1], "--help") == 0)) {
		usage(stdout);
		return 0;
	}
	while ((c = getopt(argc, argv, "t:j:J:")) != -1) {
		switch (c) {
		case 't':
			if (parse_ulong(optarg, 1, TIMEOUT_MAX, &secs) < 0)
				errx(EXIT_USAGE, "bad SECONDS '%s' (1-%d)", optarg,
				     TIMEOUT_MAX);
			break;
		case 'j':
			if (parse_ulong(optarg, 1, JOBS_MAX, &jobs) < 0)
				errx(EXIT_USAGE, "bad JOBS '%s' (1-%d)", optarg,
				     JOBS_MAX);
			break;
		case 'J':
			if (parse_ulong(optarg, 1, JOBS_MAX, &tjobs) < 0)
				errx(EXIT_USAGE, "bad TLS_JOBS '%s' (1-%d)", optarg,
				     JOBS_MAX);
			break;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	cpus = sysconf(_SC_NPROCESSORS_ONLN);
	tls_jobs = tjobs ? (unsigned)tjobs : (unsigned)(cpus > 0 ? cpus * 4 : 4);
	if (optind != argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	timeout_s = (unsigned)secs;
	signal(SIGPIPE, SIG_IGN);
	v = links_read(&n);
	probe_all(v, n, files_limit((unsigned)jobs), stdout);
	free(v);
	if (fflush(stdout) == EOF || ferror(stdout))
		err(EXIT_REFUSED, "stdout");
	return 0;
}

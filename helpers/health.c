/* health: the one writer of the health results, one file DIR/NAME per
 * link of KEY=value lines, every link of a round in one process (a
 * shell's mv and sync cost a process spawn each, ~1.7 ms here, and a
 * fsync each: the first round after a start changes every link).
 *
 *   health write DIR
 *
 * reads one line per link, tab-separated KEY=value fields, NAME= first,
 * STATE= and CHECKED= among them, and writes DIR/NAME with those lines
 * in that order and SINCE= after STATE=: the previous result's SINCE
 * while its STATE is the same, else CHECKED (when the link was first
 * seen in this state). All files are written to temporary names in DIR
 * first; when any link changed state, one syncfs(2) makes them durable
 * (one flush of the file system instead of a fsync a file), then each is
 * renamed over its result, and DIR is synced. A result like the last one
 * is not synced: what must survive a crash is a change of state.
 *
 * Prints NAME<TAB>PREVIOUS<TAB>STATE<TAB>REASON for each link whose state
 * changed (PREVIOUS empty for a link with no result yet). A bad line is
 * reported on stderr and skipped, the others are written. Exit: 0 ok,
 * 1 a line refused or a file not written, 2 usage. */
#define _GNU_SOURCE
#include "common.h"

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LINE_MAX_LEN 4096
#define FIELDS_MAX 40
#define KEY_MAX 32
#define STATE_MAX 16
#define RESULT_MAX 16384

struct result {
	char name[HOST_MAX + 1];
	char tmp[32];
	char prev[STATE_MAX + 1];
	char state[STATE_MAX + 1];
	int changed;
	const char *reason;	/* into line */
	char *line;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: health write DIR\n"
		"Reads lines of tab-separated KEY=value fields (NAME= first,\n"
		"STATE= and CHECKED= among them) and replaces DIR/NAME with\n"
		"them, one per line, and SINCE=: kept from the last result\n"
		"while STATE is the same, else CHECKED. Prints\n"
		"NAME<TAB>PREVIOUS<TAB>STATE<TAB>REASON for each change.\n"
		"Exit: 0 ok, 1 a line refused or not written, 2 usage.\n");
}

/* A key: 1-32 of A-Z, 0-9, '_', starting with a letter. */
static int key_valid(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > KEY_MAX || s[0] < 'A' || s[0] > 'Z')
		return 0;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '_'))
			return 0;
	return 1;
}

static int digits(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

/* The value of KEY in a result file's text, copied to out (size n), or
 * "" when absent. */
static void file_value(const char *text, const char *key, char *out, size_t n)
{
	size_t kl = strlen(key), vl;
	const char *p = text, *end;

	out[0] = '\0';
	while (p && *p) {
		end = strchr(p, '\n');
		if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
			vl = end ? (size_t)(end - p - kl - 1) : strlen(p + kl + 1);
			if (vl < n) {
				memcpy(out, p + kl + 1, vl);
				out[vl] = '\0';
			}
			return;
		}
		p = end ? end + 1 : NULL;
	}
}

/* Checks line (len bytes, no newline) and splits it at its tabs into
 * fields. Returns NULL, or why it is refused. */
static const char *line_check(char *line, size_t len, char **f, size_t *nf,
			      struct result *r)
{
	char *p = line, *eq, *tab;
	const char *why;
	size_t i, n = 0;
	int state = 0, checked = 0;

	for (i = 0; i < len; i++)
		if ((unsigned char)line[i] < 0x20 && line[i] != '\t')
			return "a control character";
		else if ((unsigned char)line[i] > 0x7e)
			return "not printable ASCII";
	while (p) {
		tab = strchr(p, '\t');
		if (tab)
			*tab = '\0';
		if (n == FIELDS_MAX)
			return "too many fields";
		eq = strchr(p, '=');
		if (!eq || !key_valid(p, (size_t)(eq - p)))
			return "a field that is not KEY=value";
		if (strncmp(p, "SINCE=", 6) == 0)
			return "SINCE is the writer's";
		if (n == 0) {
			if (strncmp(p, "NAME=", 5) != 0)
				return "NAME= is not first";
			why = host_check(eq + 1, strlen(eq + 1), r->name);
			if (why)
				return why;
			if (strcmp(r->name, eq + 1) != 0)
				return "name not in lower case";
		} else if (strncmp(p, "STATE=", 6) == 0) {
			if (strlen(eq + 1) == 0 || strlen(eq + 1) > STATE_MAX)
				return "bad STATE";
			strcpy(r->state, eq + 1);
			state = 1;
		} else if (strncmp(p, "CHECKED=", 8) == 0) {
			if (!digits(eq + 1))
				return "bad CHECKED";
			checked = 1;
		} else if (strncmp(p, "REASON=", 7) == 0) {
			r->reason = eq + 1;
		}
		f[n++] = p;
		p = tab ? tab + 1 : NULL;
	}
	if (!state || !checked)
		return "no STATE or CHECKED";
	*nf = n;
	return NULL;
}

/* Writes r's temporary file in dir (dfd): the fields, SINCE after
 * STATE. Returns 0, or -1 with errno set. */
static int result_stage(int dfd, const char *dir, struct result *r, char **f,
			size_t nf)
{
	char path[PATH_MAX], since[32], checked[32] = "";
	struct buf old = {0}, text = {0};
	size_t i;
	int fd, rc = -1, saved;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, r->name) >=
	    sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (read_file(path, RESULT_MAX, &old) < 0 && errno != ENOENT)
		return -1;
	for (i = 0; i < nf; i++)
		if (strncmp(f[i], "CHECKED=", 8) == 0)
			snprintf(checked, sizeof(checked), "%s", f[i] + 8);
	file_value(old.data ? old.data : "", "STATE", r->prev, sizeof(r->prev));
	file_value(old.data ? old.data : "", "SINCE", since, sizeof(since));
	r->changed = strcmp(r->prev, r->state) != 0;
	if (r->changed || !digits(since))
		snprintf(since, sizeof(since), "%s", checked);
	for (i = 0; i < nf; i++) {
		if (buf_printf(&text, "%s\n", f[i]) < 0)
			goto out;
		if (strncmp(f[i], "STATE=", 6) == 0 &&
		    buf_printf(&text, "SINCE=%s\n", since) < 0)
			goto out;
	}
	/* A fixed-length name: NAME may be 253 bytes, a file name 255. */
	snprintf(r->tmp, sizeof(r->tmp), ".h.XXXXXX");
	snprintf(path, sizeof(path), "%s/%s", dir, r->tmp);
	fd = mkstemp(path);
	if (fd < 0)
		goto out;
	snprintf(r->tmp, sizeof(r->tmp), "%s", path + strlen(dir) + 1);
	if (write(fd, text.data, text.len) != (ssize_t)text.len) {
		saved = errno ? errno : EIO;
		close(fd);
		unlinkat(dfd, r->tmp, 0);
		errno = saved;
		goto out;
	}
	if (close(fd) < 0) {
		saved = errno;
		unlinkat(dfd, r->tmp, 0);
		errno = saved;
		goto out;
	}
	rc = 0;
out:
	saved = errno;
	buf_free(&old);
	buf_free(&text);
	errno = saved;
	return rc;
}

static int cmd_write(const char *dir)
{
	struct result *v = NULL;
	char *fields[FIELDS_MAX], shown[80], line[LINE_MAX_LEN + 2];
	size_t n = 0, cap = 0, nf, len, i, lineno = 0;
	int dfd, rc = 0, any = 0;
	const char *why;

	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		err(EXIT_REFUSED, "%s", dir);
	while (fgets(line, sizeof(line), stdin)) {
		lineno++;
		len = strlen(line);
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		else if (!feof(stdin)) {
			int c;

			warnx("line %zu: longer than %d bytes", lineno, LINE_MAX_LEN);
			rc = EXIT_REFUSED;
			while ((c = getchar()) != EOF && c != '\n')
				;
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			v = realloc(v, cap * sizeof(*v));
			if (!v)
				err(EXIT_REFUSED, "memory");
		}
		memset(&v[n], 0, sizeof(v[n]));
		v[n].line = strdup(line);
		if (!v[n].line)
			err(EXIT_REFUSED, "memory");
		why = line_check(v[n].line, len, fields, &nf, &v[n]);
		if (why) {
			warnx("line %zu '%s': %s", lineno,
			      printable(line, shown, sizeof(shown)), why);
			free(v[n].line);
			rc = EXIT_REFUSED;
			continue;
		}
		if (result_stage(dfd, dir, &v[n], fields, nf) < 0) {
			warn("%s/%s", dir, v[n].name);
			free(v[n].line);
			rc = EXIT_REFUSED;
			continue;
		}
		any |= v[n].changed;
		n++;
	}
	if (ferror(stdin))
		err(EXIT_REFUSED, "stdin");
	if (any && syncfs(dfd) < 0) {
		warn("%s: syncfs", dir);
		rc = EXIT_REFUSED;
	}
	for (i = 0; i < n; i++) {
		if (renameat(dfd, v[i].tmp, dfd, v[i].name) < 0) {
			warn("%s/%s", dir, v[i].name);
			unlinkat(dfd, v[i].tmp, 0);
			rc = EXIT_REFUSED;
		} else if (v[i].changed) {
			printf("%s\t%s\t%s\t%s\n", v[i].name, v[i].prev, v[i].state,
			       v[i].reason ? v[i].reason : "");
		}
		free(v[i].line);
	}
	if (any && fsync(dfd) < 0) {
		warn("%s: fsync", dir);
		rc = EXIT_REFUSED;
	}
	close(dfd);
	free(v);
	if (fflush(stdout) == EOF)
		err(EXIT_REFUSED, "stdout");
	return rc;
}

int main(int argc, char **argv)
{
	if (argc == 2 && (strcmp(argv[1], "-h") == 0 ||
			  strcmp(argv[1], "--help") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc != 3 || strcmp(argv[1], "write") != 0) {
		usage(stderr);
		return EXIT_USAGE;
	}
	return cmd_write(argv[2]);
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/stat.h>

static bool use_stderr = true;
static bool journal;	/* stderr is systemd's journal: "<PRIORITY>message" lines */
static bool debug;
static const char *progname = "ipipd";

/* stderr is the stream systemd connected to the journal (JOURNAL_STREAM=DEV:INODE). */
static bool stderr_is_journal(void)
{
	const char *v = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!v || sscanf(v, "%llu:%llu", &dev, &ino) != 2 || fstat(2, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init(const char *ident, bool foreground, bool verbose)
{
	progname = ident;
	use_stderr = foreground;
	journal = foreground && stderr_is_journal();
	debug = verbose;
	if (!foreground)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_to_syslog(void)
{
	if (use_stderr) {
		openlog(progname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
		use_stderr = false;
	}
}

static void vlog(int pri, const char *fmt, va_list ap, int err)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (use_stderr && journal) {
		/* the journal names the program itself; the priority is its to filter on */
		if (err)
			fprintf(stderr, "<%d>%s: %s\n", pri, msg, strerror(err));
		else
			fprintf(stderr, "<%d>%s\n", pri, msg);
		fflush(stderr);
	} else if (use_stderr) {
		if (err)
			fprintf(stderr, "%s: %s: %s\n", progname, msg, strerror(err));
		else
			fprintf(stderr, "%s: %s\n", progname, msg);
		fflush(stderr);
	} else if (err) {
		syslog(pri, "%s: %s", msg, strerror(err));
	} else {
		syslog(pri, "%s", msg);
	}
}

#define LOGGER(fn, pri, witherr)			\
	void fn(const char *fmt, ...)			\
	{						\
		int e = errno;				\
		va_list ap;				\
		va_start(ap, fmt);			\
		vlog(pri, fmt, ap, witherr ? e : 0);	\
		va_end(ap);				\
		errno = e;				\
	}

LOGGER(log_warn, LOG_WARNING, 1)
LOGGER(log_warnx, LOG_WARNING, 0)

void log_warnc(int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap, -rc);
	va_end(ap);
	errno = -rc;
}
LOGGER(log_info, LOG_INFO, 0)

void log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!debug)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap, 0);
	va_end(ap);
}

void fatal(const char *fmt, ...)
{
	int e = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, e);
	va_end(ap);
	exit(1);
}

/* Every line of text to the log (prefix: what they are about). */
void log_lines(const char *prefix, char *text)
{
	char *nl_at;

	for (char *l = text; *l; l = nl_at ? nl_at + 1 : l + strlen(l)) {
		nl_at = strchr(l, '\n');
		if (nl_at)
			*nl_at = '\0';
		if (*l)
			log_warnx("%s: %s", prefix, l);
		if (!nl_at)
			break;
	}
}

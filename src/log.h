/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Logging: stderr in the foreground, syslog otherwise (after OpenNTPD's log.h). */
#ifndef IPIPD_LOG_H
#define IPIPD_LOG_H

#include <stdbool.h>

void log_init(const char *ident, bool foreground, bool verbose);
void log_to_syslog(void);
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* log_warn() for a call that returned rc, a negative errno (errno is then -rc). */
void log_warnc(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Every line of text as a warning (prefix: what they are about); text is cut into lines. */
void log_lines(const char *prefix, char *text);
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif

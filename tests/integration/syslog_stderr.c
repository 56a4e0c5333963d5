/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * syslog_stderr.c - linked into the test drivers: they define syslog() and
 * friends themselves (the executable's definitions win over libc's for
 * libpam's calls), so every pam_syslog() line of a module reaches stderr
 * in pam_wrapper's format,
 *   PWRAP_SYSLOG[pam_driver (PID)] - SYSLOG(PRIORITY): MESSAGE
 * without libpam's "module(service:type): " prefix, and the tests read
 * module logs the same way with or without pam_wrapper.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

void __syslog_chk(int priority, int flag, const char *fmt, ...);
void __vsyslog_chk(int priority, int flag, const char *fmt, va_list ap);

/* One log line on stderr, as pam_wrapper prints it. */
static void log_line(int priority, const char *fmt, va_list ap)
{
    char msg[4096];
    const char *text = msg, *prefix_end;

    vsnprintf(msg, sizeof(msg), fmt, ap);
    prefix_end = strstr(msg, "): ");
    if (prefix_end != NULL && strchr(msg, '(') != NULL && strchr(msg, '(') < prefix_end)
        text = prefix_end + 3;
    fprintf(stderr, "PWRAP_SYSLOG[pam_driver (%d)] - SYSLOG(%d): %s\n", (int) getpid(),
            priority & LOG_PRIMASK, text);
}

void syslog(int priority, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_line(priority, fmt, ap);
    va_end(ap);
}

void vsyslog(int priority, const char *fmt, va_list ap)
{
    log_line(priority, fmt, ap);
}

void __syslog_chk(int priority, int flag, const char *fmt, ...)
{
    va_list ap;

    (void) flag;
    va_start(ap, fmt);
    log_line(priority, fmt, ap);
    va_end(ap);
}

void __vsyslog_chk(int priority, int flag, const char *fmt, va_list ap)
{
    (void) flag;
    log_line(priority, fmt, ap);
}


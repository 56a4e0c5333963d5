/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * url.h - the check of one url= value (options.c), remembered per process.
 *
 * libcurl's URL parser is the most expensive step of reading the config,
 * which the module does at every login (so that a change takes effect at
 * the next one).  The result of a check is a pure function of the text, of
 * allow_http and of the libcurl in the process, so the accepted ones are
 * kept in a small table for the life of the process and a repeated check
 * copies the result.  Only accepted URLs are kept, and an accepted URL has
 * no credentials in it.  The table is guarded by a mutex that is only ever
 * tried: a thread that finds it busy (or a child forked while another
 * thread held it) parses again, it never waits.
 */
#ifndef PAM_HTTPBASIC_URL_H
#define PAM_HTTPBASIC_URL_H

#include <stdbool.h>
#include <stddef.h>

#include "options.h"

/*
 * Check url for use as a server: http(s) only, http only with allow_http,
 * a host, no user:password@.  On success returns 0, *normalised is
 * libcurl's normal form (malloc'd; the caller frees it) and host holds
 * "HOST" or "HOST:PORT" for log lines.  On failure returns -1 and why says
 * what is wrong and what to write instead.
 */
int hb_url_check(const char *url, bool allow_http, char **normalised, char host[HB_HOST_LEN],
                 char *why, size_t whylen);

/* How many checks were answered from the table so far in this process (for the tests). */
size_t hb_url_memo_hits(void);

#endif

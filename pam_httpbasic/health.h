/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * health.h - which servers rest: a server that gave no answer at all is
 * skipped for cfg->server_retry_after seconds.  Without a store the table
 * lives in this process; with one (store.h) it is shared by every process
 * (LMDB) or host (Redis) using that store, so a dead server costs one
 * timeout per retry period there, not one per process.
 *
 * Store records (wall-clock seconds, so that processes agree), keyed and
 * authenticated with secret_file so that a store writer without the secret
 * can never declare an outage:
 *   'h' || HMAC(secret, label "h" URL)                     the server rests until T
 *   'p' || HMAC(secret, label "p" "p" URL1 ... URLn)       probe token until T
 * value: version byte (2), T as int64 little-endian, HMAC(secret, label,
 * key, version, T); each expires after server_retry_after.  A value that
 * does not authenticate is absent; T is capped at now + server_retry_after
 * when read, so no stored time (nor a clock step) makes a rest or a token
 * last longer than one period.  A store or secret error counts as "not
 * resting" and "probe allowed": the login goes to the server as without a
 * store.  Who may declare a rest is check.c's decision (outage evidence);
 * a setuid/setgid process (AT_SECURE), which the user who ran it can stop,
 * never takes the probe token.
 */
#ifndef HB_HEALTH_H
#define HB_HEALTH_H

#include <stdbool.h>

#include "options.h"

struct hb_store;

/* True while the server at url rests.  store may be NULL. */
bool hb_health_resting(const struct hb_config *cfg, struct hb_store *store, const char *url);

/* Record that url answered (answered) or gave no answer at all. */
void hb_health_note(const struct hb_config *cfg, struct hb_store *store, const char *url, bool answered);

/* True while every server of cfg rests (false when server_retry_after is 0). */
bool hb_health_all_resting(const struct hb_config *cfg, struct hb_store *store);

/*
 * While every server rests: may this login probe them?  With a store, one
 * login per server_retry_after per store takes the probe token (an atomic
 * update: the first that finds no live token) and gets true; the others
 * get false.  Without a store, or when the store fails, always true (the
 * login goes to the server as it would without a store).  In an AT_SECURE
 * process always false: it never holds the token.
 */
bool hb_health_take_probe(const struct hb_config *cfg, struct hb_store *store);

#endif

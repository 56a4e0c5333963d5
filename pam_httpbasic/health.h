/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * health.h - which servers rest: a server that gave no answer at all is
 * skipped for cfg->server_retry_after seconds.  Without a store the table
 * lives in this process; with one (store.h) it is shared by every process
 * (LMDB) or host (Redis) using that store, so a dead server costs one
 * timeout per retry period there, not one per process.
 *
 * Store records (wall-clock seconds, so that processes agree):
 *   'h' || SHA-256(url)                       the server rests until T
 *   'p' || SHA-256("p\0" URL1 "\0" ... URLn "\0")   probe token until T
 * value: one version byte (1) and T as int64 little-endian; each expires
 * after server_retry_after.  A store error counts as "not resting" and
 * "probe allowed": the login goes to the server as without a store.
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
 * login goes to the server as it would without a store).
 */
bool hb_health_take_probe(const struct hb_config *cfg, struct hb_store *store);

#endif

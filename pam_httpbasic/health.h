/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * health.h - which servers rest: a server that gave no answer at all is
 * skipped for cfg->server_retry_after seconds.  Without a store the table
 * lives in this process; with one (store.h) it is shared by every process
 * (LMDB) or host (Redis) using that store, so a dead server costs one
 * timeout per retry period there, not one per process.
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

#endif

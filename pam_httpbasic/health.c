/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * health.c - resting servers.  The in-process table below is used when no
 * store is configured: a few slots keyed by a hash of the URL, guarded by
 * a lock that is only ever tried (never waited for), so a thread or a
 * child forked while another thread held it goes on as if nothing rested.
 */
#include "health.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define RESTING_SLOTS 16

static pthread_mutex_t resting_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    uint64_t url_key;
    time_t until;            /* CLOCK_MONOTONIC seconds */
} resting[RESTING_SLOTS];   /* servers that recently gave no answer */

static time_t now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

/* FNV-1a of url. */
static uint64_t url_key(const char *url)
{
    uint64_t hash = 0xcbf29ce484222325ULL;

    for (; *url != '\0'; url++)
        hash = (hash ^ (unsigned char) *url) * 0x100000001b3ULL;
    return hash;
}

static bool table_resting(uint64_t key, time_t now)
{
    bool found = false;

    if (pthread_mutex_trylock(&resting_lock) != 0)
        return false;
    for (size_t i = 0; i < RESTING_SLOTS; i++)
        if (resting[i].url_key == key && resting[i].until > now)
            found = true;
    pthread_mutex_unlock(&resting_lock);
    return found;
}

/*
 * Let the server rest until until (0: it answered, forget it).  A new
 * resting server takes the entry that expires first; forgetting a server
 * that is not in the table changes nothing.
 */
static void table_set(uint64_t key, time_t until)
{
    size_t slot = RESTING_SLOTS, oldest = 0;

    if (pthread_mutex_trylock(&resting_lock) != 0)
        return;
    for (size_t i = 0; i < RESTING_SLOTS && slot == RESTING_SLOTS; i++) {
        if (resting[i].url_key == key)
            slot = i;
        else if (resting[i].until < resting[oldest].until)
            oldest = i;
    }
    if (slot == RESTING_SLOTS && until != 0)
        slot = oldest;
    if (slot < RESTING_SLOTS) {
        resting[slot].url_key = key;
        resting[slot].until = until;
    }
    pthread_mutex_unlock(&resting_lock);
}

bool hb_health_resting(const struct hb_config *cfg, struct hb_store *store, const char *url)
{
    (void) cfg;
    (void) store;
    return table_resting(url_key(url), now_seconds());
}

void hb_health_note(const struct hb_config *cfg, struct hb_store *store, const char *url, bool answered)
{
    (void) store;
    table_set(url_key(url), answered ? 0 : now_seconds() + cfg->server_retry_after);
}

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * decide.c - one login's decision: cache, servers, log line (decide.h).
 *
 * The store is acquired once per login and released before returning;
 * with no store, or one that fails, the login is decided by the servers
 * exactly as without a cache, so a store can neither accept a login nor
 * refuse one the server would accept.  Store problems are warned about
 * once per process (an atomic flag, cleared when the store works again);
 * with debug, every one is logged.
 */
#include "decide.h"
#include "cache.h"
#include "check.h"
#include "guard.h"
#include "health.h"
#include "store.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <security/_pam_types.h>
#include <security/pam_ext.h>

enum cache_use { CACHE_OFF, CACHE_MISS, CACHE_HIT, CACHE_STALE };

static const char *const cache_words[] = {"off", "miss", "hit", "stale"};

/* The store and cache of one login. */
struct session {
    struct hb_store *store;     /* NULL: none or unusable */
    struct hb_cache cache;
    bool cache_ready;           /* secret read, key derived, window > 0 */
};

/* The decision being made. */
struct decision {
    struct hb_outcome out;
    bool guarded;               /* refused by the guard, nothing else done */
    bool resting;               /* every server rests, another login probes: unavailable at once */
    bool asked;                 /* the servers were asked (out is filled) */
    enum cache_use cache;
    int64_t age;                /* of the verifier that answered, s */
    int code;                   /* PAM code */
};

static atomic_bool store_warned;

/* Log a store problem: a warning once per process, every time with debug. */
static void store_problem(pam_handle_t *pamh, const struct hb_config *cfg, const char *what, const char *err)
{
    char escaped[HB_ERROR_LEN];

    hb_log_escape(err, escaped, sizeof(escaped));
    if (!atomic_exchange(&store_warned, true))
        pam_syslog(pamh, LOG_WARNING, "store %s failed: %s; logins are checked with the server,"
                   " without the cache (warned once per process)", what, escaped);
    else if (cfg->debug)
        pam_syslog(pamh, LOG_DEBUG, "store %s failed: %s", what, escaped);
}

/* Note the result rc of a store call: a failure is logged, a success re-arms the warning. */
static void store_result(pam_handle_t *pamh, const struct hb_config *cfg, const char *what,
                         int rc, const char *err)
{
    if (rc == HB_STORE_ERROR)
        store_problem(pamh, cfg, what, err);
    else
        atomic_store(&store_warned, false);
}

/* Acquire the store and prepare the cache of this login (both optional). */
static void open_session(pam_handle_t *pamh, const struct hb_config *cfg, const struct hb_login *login,
                         struct session *s)
{
    char err[HB_ERROR_LEN];

    memset(s, 0, sizeof(*s));
    if (cfg->store != NULL && (s->store = hb_store_acquire(cfg, err, sizeof(err))) == NULL)
        store_problem(pamh, cfg, "open", err);
    if (s->store != NULL && hb_cache_window(cfg) > 0) {
        s->cache_ready = hb_cache_init(&s->cache, cfg, login->http_user, err, sizeof(err)) == 0;
        if (!s->cache_ready)
            store_problem(pamh, cfg, "secret", err);
    }
}

/* The login's HMAC keyed with secret_file, for the guard's key; NULL without a ready cache. */
static const struct hb_mac *session_mac(const struct session *s)
{
    return s->cache_ready ? &s->cache.mac : NULL;
}

static void close_session(struct session *s)
{
    hb_store_release(s->store);
    hb_cache_wipe(&s->cache);
}

/*
 * What every login reads first, in one store round trip
 * (hb_store_get_many): the user's record, the account record of the login
 * name taken as a uid, and the guard record of the client address.
 */
enum { PF_USER, PF_ACCOUNT, PF_GUARD, PF_KEYS };

struct prefetch {
    uint8_t values[PF_KEYS][HB_STORE_VALUE_MAX];
    size_t lens[PF_KEYS];
    int rcs[PF_KEYS];
    bool cache, guard;           /* which were read */
};

/* Read the login's records; p->cache / p->guard say what was read (nothing on a store error). */
static void prefetch(pam_handle_t *pamh, const struct hb_config *cfg, const struct hb_login *login,
                     const struct session *s, struct prefetch *p)
{
    uint8_t account[HB_CACHE_KEY_LEN], guard[HB_GUARD_KEY_LEN];
    const uint8_t *keys[PF_KEYS] = {s->cache.key, account, guard};
    size_t lens[PF_KEYS] = {HB_CACHE_KEY_LEN, HB_CACHE_KEY_LEN, HB_GUARD_KEY_LEN};
    char err[HB_ERROR_LEN] = "";
    int rc;

    p->cache = s->cache_ready;
    p->guard = s->store != NULL && hb_guard_applies(cfg, login->client_ip)
               && hb_guard_key(cfg, login->client_ip, session_mac(s), guard, err, sizeof(err)) == 0;
    if (s->store != NULL && hb_guard_applies(cfg, login->client_ip) && !p->guard)
        store_problem(pamh, cfg, "guard read", err);
    if (p->cache)
        hb_cache_name_account_key(&s->cache, account);
    if (!p->cache && !p->guard)
        return;
    if (!p->cache) {            /* the guard record alone */
        keys[0] = guard;
        lens[0] = HB_GUARD_KEY_LEN;
    }
    rc = hb_store_get_many(s->store, keys, lens, p->cache ? (p->guard ? 3 : 2) : 1, p->values, p->lens, p->rcs,
                           err, sizeof(err));
    store_result(pamh, cfg, p->cache ? "read" : "guard read", rc, err);
    if (rc == HB_STORE_ERROR)
        p->cache = p->guard = false;
    if (!p->cache && p->guard) {
        memcpy(p->values[PF_GUARD], p->values[0], p->lens[0]);
        p->lens[PF_GUARD] = p->lens[0];
        p->rcs[PF_GUARD] = p->rcs[0];
    }
}

/* Seconds since the newest verifier of the password, or -1 when none matches (p: prefetched, or NULL). */
static int64_t verified_age(pam_handle_t *pamh, const struct hb_config *cfg, const struct session *s,
                            const char *password, const struct prefetch *p)
{
    char err[HB_ERROR_LEN];
    int64_t age = -1;
    int rc;

    if (s->cache_ready && p != NULL && p->cache) {
        const struct hb_cache_prefetch pf = {p->values[PF_USER], p->lens[PF_USER], p->rcs[PF_USER],
                                             p->values[PF_ACCOUNT], p->lens[PF_ACCOUNT], p->rcs[PF_ACCOUNT]};

        rc = hb_cache_lookup_prefetched(&s->cache, s->store, password, (int64_t) time(NULL), &pf, &age,
                                        err, sizeof(err));
        store_result(pamh, cfg, "read", rc, err);
        if (rc != HB_STORE_OK)
            age = -1;
    } else if (s->cache_ready && p == NULL) {
        rc = hb_cache_lookup(&s->cache, s->store, password, (int64_t) time(NULL), &age, err, sizeof(err));
        store_result(pamh, cfg, "read", rc, err);
        if (rc != HB_STORE_OK)
            age = -1;
    }
    return age;
}

/* True when the guard refuses this login's client address (never on a store error). */
static bool guard_refuses(const struct hb_config *cfg, const struct prefetch *p)
{
    return p->guard && p->rcs[PF_GUARD] == HB_STORE_OK
           && hb_guard_value_refuses(cfg, p->values[PF_GUARD], p->lens[PF_GUARD]);
}

/* Before a request: reserve an attempt of the client address; true when the guard refuses it. */
static bool guard_reserve(pam_handle_t *pamh, const struct hb_config *cfg, const struct hb_login *login,
                          const struct session *s, struct hb_guard_ticket *ticket)
{
    char err[HB_ERROR_LEN] = "";
    enum hb_guard_result rc = hb_guard_reserve(cfg, s->store, login->client_ip, session_mac(s), ticket,
                                               err, sizeof(err));

    if (s->store != NULL && hb_guard_applies(cfg, login->client_ip))
        store_result(pamh, cfg, "guard update", rc == HB_GUARD_ERROR ? HB_STORE_ERROR : HB_STORE_OK, err);
    return rc == HB_GUARD_REFUSED;
}

/*
 * After the answer: a failure keeps the reservation, anything else gives
 * it back.  A failure is a wrong password, or a password that matched no
 * verifier while no server could answer (the cache was the only judge:
 * without counting those, an outage would be a free oracle for guesses).
 */
static void guard_settle(pam_handle_t *pamh, const struct hb_config *cfg, const struct session *s,
                         struct hb_guard_ticket *ticket, bool failed)
{
    char err[HB_ERROR_LEN] = "";
    int rc;

    if (ticket->held) {
        rc = hb_guard_settle(cfg, s->store, ticket, failed, err, sizeof(err));
        store_result(pamh, cfg, "guard update", rc == 0 ? HB_STORE_OK : HB_STORE_ERROR, err);
    }
}

/*
 * Update the cache with the servers' verdict: a 207 adds or refreshes the
 * verifier, stamped with the time the request was sent (sent_at), unless a
 * refusal the server gave since then is recorded; a 401 drops the
 * password's verifiers and records the refusal; a disabled account voids
 * every verification of the account, under every login name.
 */
static void learn(pam_handle_t *pamh, const struct hb_config *cfg, const struct session *s,
                  const char *password, const struct hb_outcome *out, int64_t sent_at)
{
    char err[HB_ERROR_LEN];
    int64_t now = (int64_t) time(NULL);
    bool refused = false;
    int rc = HB_STORE_NOT_FOUND;

    if (s->cache_ready && out->verdict == HB_OK)
        rc = hb_cache_remember(&s->cache, s->store, password, sent_at, now, out->account, &refused,
                               err, sizeof(err));
    else if (s->cache_ready && out->verdict == HB_DENIED)
        rc = hb_cache_revoke(&s->cache, s->store, password, now, err, sizeof(err));
    else if (s->cache_ready && out->verdict == HB_DISABLED)
        rc = hb_cache_drop_user(&s->cache, s->store, now, err, sizeof(err));
    if (rc != HB_STORE_NOT_FOUND)
        store_result(pamh, cfg, "update", rc, err);
    if (rc == HB_STORE_OK && cfg->debug)
        pam_syslog(pamh, LOG_DEBUG, "cache: %s",
                   out->verdict == HB_OK && refused ? "verifier NOT stored: the server refused this password"
                                                      " (or the account) after this request was sent"
                   : out->verdict == HB_OK ? "verifier of this password stored"
                   : out->verdict == HB_DENIED ? "no verifier of this password is left (refused)"
                   : "every verification of this account voided (account disabled)");
}

/*
 * True when no server gave a usable answer, none refused, and the outage
 * is one the servers themselves declared (check.h: an HTTP status such as
 * a 503, or silence confirmed by an anonymous request of a process that is
 * neither setuid nor stopped).  A 401, 403 or 429 anywhere (even with
 * other statuses configured) is a refusal of this login, never an outage;
 * a timeout only this login saw (a stopped su, a client its own throttle
 * slows down) never opens the stale window.
 */
static bool is_outage(const struct hb_outcome *out)
{
    bool outage = out->verdict == HB_UNAVAILABLE && hb_outcome_confirmed_outage(out);

    for (size_t i = 0; i < out->attempt_count; i++) {
        long status = out->attempts[i].http_status;

        outage = outage && status != 401 && status != 403 && status != 429;
    }
    return outage;
}

/* The PAM code for a verdict. */
static int pam_code(enum hb_verdict verdict)
{
    switch (verdict) {
    case HB_OK: return PAM_SUCCESS;
    case HB_DENIED: return PAM_AUTH_ERR;
    case HB_DISABLED: return PAM_PERM_DENIED;
    case HB_THROTTLED: return PAM_MAXTRIES;
    case HB_UNAVAILABLE: return PAM_AUTHINFO_UNAVAIL;
    }
    return PAM_AUTHINFO_UNAVAIL;
}

/* With debug: the request about to be sent. */
static void log_sending(pam_handle_t *pamh, const struct hb_config *cfg, const struct hb_login *login)
{
    char http_user_log[HB_LOG_FIELD];

    if (!cfg->debug)
        return;
    hb_log_field(login->http_user, http_user_log, sizeof(http_user_log));
    pam_syslog(pamh, LOG_DEBUG, "sending %s %s as user %s (timeout %ld ms, %zu server(s))",
               cfg->method, cfg->servers[0].url, http_user_log, cfg->timeout_ms, cfg->server_count);
}

/* The decision: the guard, the cache, then the servers, then the stale window. */
static void decide(pam_handle_t *pamh, const struct hb_config *cfg, const struct hb_login *login,
                   const struct session *s, struct decision *d)
{
    const struct hb_credentials cred = {login->http_user, login->password, login->client_ip};
    struct hb_guard_ticket ticket;
    struct prefetch *p = calloc(1, sizeof(*p));   /* 12 KiB: not on the host's stack */
    int64_t age, sent_at;

    memset(&ticket, 0, sizeof(ticket));
    d->cache = s->cache_ready ? CACHE_MISS : CACHE_OFF;
    if (p != NULL)
        prefetch(pamh, cfg, login, s, p);
    d->guarded = p != NULL && guard_refuses(cfg, p);
    age = d->guarded ? -1 : verified_age(pamh, cfg, s, login->password, p);
    free(p);
    if (d->guarded) {
        d->code = PAM_MAXTRIES;
        return;
    }
    if (hb_cache_is_fresh(cfg, age)) {
        d->cache = CACHE_HIT;
    } else if (s->store != NULL && hb_health_all_resting(cfg, s->store)
               && !hb_health_take_probe(cfg, s->store)) {
        /* Every server rests and another login probes them: only the cache answers. */
        d->cache = hb_cache_is_stale_ok(cfg, age) ? CACHE_STALE : d->cache;
        d->resting = d->cache != CACHE_STALE;
        /* A password the cache alone refuses counts against the address like a 401. */
        if (d->resting && s->cache_ready && guard_reserve(pamh, cfg, login, s, &ticket)) {
            d->guarded = true;
            d->code = PAM_MAXTRIES;
            return;
        }
        if (d->resting && s->cache_ready)
            guard_settle(pamh, cfg, s, &ticket, true);
    } else if (guard_reserve(pamh, cfg, login, s, &ticket)) {
        d->guarded = true;
        d->code = PAM_MAXTRIES;
        return;
    } else {
        log_sending(pamh, cfg, login);
        sent_at = (int64_t) time(NULL);
        hb_check(cfg, &cred, s->store, &d->out);
        d->asked = true;
        learn(pamh, cfg, s, login->password, &d->out, sent_at);
        if (is_outage(&d->out) && cfg->cache_stale > 0) {
            age = verified_age(pamh, cfg, s, login->password, NULL);
            if (hb_cache_is_stale_ok(cfg, age))
                d->cache = CACHE_STALE;
        }
        guard_settle(pamh, cfg, s, &ticket, d->out.verdict == HB_DENIED
                     || (is_outage(&d->out) && d->cache != CACHE_STALE && s->cache_ready));
    }
    d->age = age;
    d->code = d->cache == CACHE_HIT || d->cache == CACHE_STALE ? PAM_SUCCESS
              : d->resting ? PAM_AUTHINFO_UNAVAIL : pam_code(d->out.verdict);
}

static int log_priority(enum hb_verdict verdict)
{
    switch (verdict) {
    case HB_OK: return LOG_INFO;
    case HB_DENIED: return LOG_NOTICE;
    case HB_DISABLED: return LOG_NOTICE;
    case HB_THROTTLED: return LOG_WARNING;
    case HB_UNAVAILABLE: return LOG_ERR;
    }
    return LOG_ERR;
}

/* ' error="..."' for an attempt that failed, else "". */
static void format_error(const struct hb_attempt *attempt, char *out, size_t outlen)
{
    char escaped[HB_ERROR_LEN];

    out[0] = '\0';
    if (attempt->error[0] == '\0')
        return;
    hb_log_escape(attempt->error, escaped, sizeof(escaped));
    snprintf(out, outlen, " error=\"%s\"", escaped);
}

/* A warning for each server that gave no usable answer before the last one. */
static void log_failovers(pam_handle_t *pamh, const struct hb_config *cfg, const struct hb_outcome *out)
{
    char error[HB_ERROR_LEN + 16];

    for (size_t i = 0; i + 1 < out->attempt_count; i++) {
        const struct hb_attempt *a = &out->attempts[i];

        format_error(a, error, sizeof(error));
        pam_syslog(pamh, LOG_WARNING, "server %s gave no usable answer: status=%ld ms=%ld%s; trying the next one",
                   cfg->servers[a->server].host, a->http_status, a->elapsed_ms, error);
    }
}

/* The decision line of a login answered by the cache without any request. */
static void log_cached(pam_handle_t *pamh, const struct hb_config *cfg, const struct hb_login *login,
                       const struct decision *d)
{
    bool stale = d->cache == CACHE_STALE;

    pam_syslog(pamh, stale ? LOG_WARNING : LOG_INFO,
               "auth ok%s: user=%s rhost=%s forwarded=%s server=%s status=- ms=0 cache=%s age=%lld%s",
               stale ? " (stale: server unavailable)" : "", login->user_log, login->rhost_log,
               login->client_ip[0] != '\0' && cfg->forward_header != NULL ? login->client_ip : "-",
               stale ? "resting" : "-", cache_words[d->cache], (long long) d->age,
               stale ? " (every server rests; another login probes them)" : "");
}

/*
 * The decision line of a login the servers were asked about: verdict, who,
 * from where, which server, how it went and, with a store, what the cache did (no store: the line is the
 * same as before the cache existed).
 */
static void log_decision(pam_handle_t *pamh, const struct hb_config *cfg,
                         const struct hb_login *login, const struct decision *d)
{
    const struct hb_outcome *out = &d->out;
    const struct hb_attempt *last = &out->attempts[out->attempt_count - 1];
    bool stale = d->cache == CACHE_STALE;
    char error[HB_ERROR_LEN + 16];
    char servers[64] = "", cache[48] = "", hint[256] = "";

    log_failovers(pamh, cfg, out);
    format_error(last, error, sizeof(error));
    if (cfg->server_count > 1)
        snprintf(servers, sizeof(servers), " tried=%zu skipped=%zu", out->attempt_count, out->skipped);
    if (stale)
        snprintf(cache, sizeof(cache), " cache=stale age=%lld", (long long) d->age);
    else if (cfg->store != NULL)
        snprintf(cache, sizeof(cache), " cache=%s", cache_words[d->cache]);
    if (out->verdict == HB_THROTTLED)
        snprintf(hint, sizeof(hint), " (%s)", hb_outcome_hint(out));   /* the admin tool's words */
    pam_syslog(pamh, stale ? LOG_WARNING : log_priority(out->verdict),
               "auth %s: user=%s rhost=%s forwarded=%s server=%s status=%ld ms=%ld%s%s%s%s",
               stale ? "ok (stale: server unavailable)" : hb_verdict_name(out->verdict),
               login->user_log, login->rhost_log,
               login->client_ip[0] != '\0' && cfg->forward_header != NULL ? login->client_ip : "-",
               cfg->servers[last->server].host, last->http_status, out->elapsed_ms, servers, error,
               cache, hint);
}

int hb_decide(pam_handle_t *pamh, const struct hb_config *cfg, const struct hb_login *login)
{
    struct session s;
    struct decision d;

    memset(&d, 0, sizeof(d));
    if (cfg->insecure_skip_verify)
        pam_syslog(pamh, LOG_WARNING,
                   "insecure_skip_verify is set: the TLS certificate of %s is not verified",
                   cfg->servers[0].host);
    open_session(pamh, cfg, login, &s);
    decide(pamh, cfg, login, &s, &d);
    close_session(&s);
    if (d.guarded)
        pam_syslog(pamh, LOG_NOTICE, "auth refused: user=%s rhost=%s: too many failures from this address"
                   " (guard: %ld in %ld s; no request sent)",
                   login->user_log, login->rhost_log, cfg->guard_failures, cfg->guard_window);
    else if (d.resting)
        pam_syslog(pamh, LOG_ERR, "auth unavailable: user=%s rhost=%s forwarded=%s server=resting status=- ms=0"
                   " cache=%s (every server rests; another login probes them)", login->user_log,
                   login->rhost_log, login->client_ip[0] != '\0' && cfg->forward_header != NULL ? login->client_ip : "-",
                   cache_words[d.cache]);
    else if (d.asked)
        log_decision(pamh, cfg, login, &d);
    else
        log_cached(pamh, cfg, login, &d);
    return d.code;
}

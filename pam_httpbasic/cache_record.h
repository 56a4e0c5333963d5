/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cache_record.h - the record layer of the credential cache (inside the
 * library only): the scope and keys, the MACs, and the encoding of the
 * user and account records whose layout cache.h describes.  cache.c (what
 * a login does with them) and cache_admin.c (what the admin tool does) are
 * built on it; nothing here touches the store.
 */
#ifndef HB_CACHE_RECORD_H
#define HB_CACHE_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cache.h"

#define ENTRY_LEN (HB_CACHE_SALT_LEN + HB_CACHE_MAC_LEN + 8)
#define USER_HEADER_LEN 52
#define ACCOUNT_HEADER_LEN 19
#define FLAG_ACCOUNT 1

#define LABEL_SCOPE "pam_httpbasic scope v2"
#define LABEL_USER "pam_httpbasic user v2"
#define LABEL_ACCOUNT "pam_httpbasic account v2"
#define LABEL_VERIFIER "pam_httpbasic verifier v2"
#define LABEL_RECORD "pam_httpbasic record v2"

/* One verifier or refusal, decoded. */
struct entry {
    uint8_t salt[HB_CACHE_SALT_LEN];
    uint8_t mac[HB_CACHE_MAC_LEN];
    int64_t at;
};

/* A login name's record, decoded. */
struct user_record {
    size_t nv, nt;
    bool has_account;
    uint8_t account[HB_CACHE_MAC_LEN];
    int64_t floor;               /* verifications at or before it are void (disabled, forgotten) */
    int64_t late;                /* acceptances sent at or before it are not stored (a refusal was dropped) */
    struct entry v[HB_CACHE_MAX_VERIFIERS];
    struct entry t[HB_CACHE_MAX_REFUSALS + 1];
};

/* An account's record, decoded. */
struct account_record {
    size_t n, nt;
    int64_t floor;               /* verifications of every name at or before it are void */
    int64_t late;                /* acceptances sent at or before it are not stored */
    uint8_t link[HB_CACHE_MAX_LINKS][HB_CACHE_MAC_LEN];
    struct entry t[HB_CACHE_MAX_REFUSALS + 1];   /* refusals under any of its names */
};

/* The scope: HMAC(secret, label, realm, verdict settings) into cache->scope; 0 on success. */
int cr_derive_scope(struct hb_cache *cache);

/* The key of kind 'u' (login name) or 'a' (account) for name; 0 on success. */
int cr_make_key(const struct hb_cache *cache, char kind, const char *name, uint8_t key[HB_CACHE_KEY_LEN]);

/* The account key whose HMAC part is id. */
void cr_account_key(const struct hb_cache *cache, const uint8_t id[HB_CACHE_MAC_LEN], uint8_t key[HB_CACHE_KEY_LEN]);

/* True when e is an entry of password (constant-time comparison). */
bool cr_entry_matches(const struct hb_cache *cache, const struct entry *e, const char *password);

/* A fresh entry of password stamped at; 0 on success. */
int cr_new_entry(const struct hb_cache *cache, const char *password, int64_t at, struct entry *e);

/* True when a time stored at "at" lies within (now - window, now]: never overflows. */
bool cr_within(int64_t at, int64_t now, long window);

/* Decode an authentic user record; 0 when value has the one known shape and its MAC, else -1. */
int cr_decode_user(const struct hb_cache *cache, const uint8_t *key, const uint8_t *value, size_t len, struct user_record *rec);

/* Encode rec under key into out (HB_STORE_VALUE_MAX bytes); the length, or 0 on failure. */
size_t cr_encode_user(const struct hb_cache *cache, const uint8_t *key, const struct user_record *rec, uint8_t *out);

/* Decode an authentic account record; 0 or -1, as cr_decode_user(). */
int cr_decode_account(const struct hb_cache *cache, const uint8_t *key, const uint8_t *value, size_t len, struct account_record *rec);

/* Encode an account record; the length, or 0 on failure. */
size_t cr_encode_account(const struct hb_cache *cache, const uint8_t *key, const struct account_record *rec, uint8_t *out);

/* Remove entry i of an array of *count entries. */
void cr_remove_entry(struct entry *e, size_t *count, size_t i);

/* Index of the entry with the smallest "at". */
size_t cr_oldest_entry(const struct entry *e, size_t count);

/* Seconds a refusal is kept: as long as a request sent before it may still be answered. */
long cr_refusal_life(const struct hb_config *cfg);

/* Record a refusal (stamped refusal->at) of password in t[*nt]; beyond HB_CACHE_MAX_REFUSALS the oldest goes and raises *late. */
void cr_add_refusal(const struct hb_cache *cache, struct entry *t, size_t *nt, int64_t *late, const struct entry *refusal, const char *password);

/* True when t[nt] holds a refusal of password at or after at. */
bool cr_list_refused(const struct hb_cache *cache, const struct entry *t, size_t nt, const char *password, int64_t at);

/* Drop an account's refusals past their lifetime and a late floor past it. */
void cr_account_drop_void(struct account_record *acc, int64_t now, long refusal);

/* Drop what is void at now in a user record: entries past their lifetime, verifiers at or before the floor. */
void cr_drop_void(struct user_record *rec, int64_t now, long window, long refusal);

/* Seconds left of something stamped at, within life of now: never overflows. */
long cr_left(int64_t at, int64_t now, long life);

#endif

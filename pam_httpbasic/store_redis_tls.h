/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * store_redis_tls.h - the TLS context of a rediss:// store (hiredis_ssl).
 */
#ifndef HB_STORE_REDIS_TLS_H
#define HB_STORE_REDIS_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "options.h"

/*
 * A client context for Redis over TLS from cfg: TLS 1.2 or later, the
 * peer verified against cfg->store_cafile (required), cfg->store_cert and
 * cfg->store_key as the client certificate when both are set.  NULL with
 * a reason naming the file in why (whylen bytes) when a file is missing,
 * unsafe (owner, mode, symlink) or unusable.
 */
SSL_CTX *hb_redis_tls_context(const struct hb_config *cfg, char *why, size_t whylen);

#endif

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * store_redis_tls.c - the TLS context of a rediss:// store (store_redis.c):
 * store_cafile as the only trust anchors, an optional client certificate
 * (store_cert, store_key), TLS 1.2 at least.  The files are read here
 * (close-on-exec, no symlink, owner and mode checked by files.c; the key
 * as a secret file, its buffer wiped), never by OpenSSL's file functions,
 * and loaded from memory; no passphrase is ever asked for.  OpenSSL's
 * error queue is left empty.  Only built with hiredis_ssl (HAVE_HIREDIS_SSL).
 */
#ifdef HAVE_HIREDIS_SSL
#include "store_redis_tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "files.h"

#define TLS_FILE_MAX (1024L * 1024L)   /* bytes of a store_cafile, store_cert, store_key */

/* A trusted file (files.h: no symlink, owner, forbidden mode bits) read whole into a new buffer. */
static unsigned char *read_file(const char *path, mode_t forbidden, size_t *len, char *why, size_t whylen)
{
    struct stat st;
    unsigned char *buf = NULL;
    size_t done = 0;
    int fd = hb_open_trusted(path, forbidden, TLS_FILE_MAX, why, whylen);

    if (fd < 0)
        return NULL;
    if (fstat(fd, &st) != 0 || (buf = malloc((size_t) st.st_size + 1)) == NULL) {
        snprintf(why, whylen, "%s: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    while (done < (size_t) st.st_size) {
        ssize_t n = read(fd, buf + done, (size_t) st.st_size - done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        done += (size_t) n;
    }
    close(fd);
    *len = done;
    return buf;
}

/* Never ask for a passphrase (OpenSSL's default would read the terminal). */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void) buf, (void) size, (void) rwflag, (void) u;
    return -1;
}

/* store_cafile: every certificate in it becomes a trust anchor; -1 with why. */
static int load_ca(SSL_CTX *ctx, const char *path, char *why, size_t whylen)
{
    size_t len = 0;
    unsigned char *pem = read_file(path, S_IWGRP | S_IWOTH, &len, why, whylen);
    STACK_OF(X509_INFO) *infos = NULL;
    BIO *bio;
    int added = 0;

    if (pem == NULL)
        return -1;
    bio = BIO_new_mem_buf(pem, (int) len);
    if (bio != NULL)
        infos = PEM_X509_INFO_read_bio(bio, NULL, no_passphrase, NULL);
    for (int i = 0; infos != NULL && i < sk_X509_INFO_num(infos); i++) {
        X509_INFO *info = sk_X509_INFO_value(infos, i);

        if (info->x509 != NULL && X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), info->x509) == 1)
            added++;
    }
    sk_X509_INFO_pop_free(infos, X509_INFO_free);
    BIO_free(bio);
    free(pem);
    if (added == 0)
        snprintf(why, whylen, "store_cafile %s: no PEM certificate in it", path);
    return added > 0 ? 0 : -1;
}

/* store_cert (certificate, then its chain) and store_key (a secret file); -1 with why. */
static int load_client(SSL_CTX *ctx, const char *cert, const char *key, char *why, size_t whylen)
{
    size_t len = 0, keylen = 0;
    unsigned char *pem = read_file(cert, S_IWGRP | S_IWOTH, &len, why, whylen);
    unsigned char *keypem = NULL;
    BIO *bio = NULL;
    X509 *x = NULL;
    EVP_PKEY *pk = NULL;
    int rc = -1;

    if (pem == NULL)
        return -1;
    if ((bio = BIO_new_mem_buf(pem, (int) len)) == NULL || (x = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL)) == NULL
        || SSL_CTX_use_certificate(ctx, x) != 1) {
        snprintf(why, whylen, "store_cert %s: no usable PEM certificate in it", cert);
        goto out;
    }
    X509_free(x);
    while ((x = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL)) != NULL)
        if (SSL_CTX_add_extra_chain_cert(ctx, x) != 1) {   /* owns x on success */
            snprintf(why, whylen, "store_cert %s: cannot add its chain", cert);
            goto out;
        }
    BIO_free(bio);
    bio = NULL;
    if ((keypem = read_file(key, S_IRWXG | S_IRWXO, &keylen, why, whylen)) == NULL)
        goto out;
    if ((bio = BIO_new_mem_buf(keypem, (int) keylen)) == NULL
        || (pk = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL)) == NULL
        || SSL_CTX_use_PrivateKey(ctx, pk) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(why, whylen, "store_key %s: not an unencrypted PEM key matching store_cert", key);
        goto out;
    }
    rc = 0;
out:
    X509_free(x);
    EVP_PKEY_free(pk);
    BIO_free(bio);
    free(pem);
    if (keypem != NULL) {
        explicit_bzero(keypem, keylen);
        free(keypem);
    }
    return rc;
}

/* The TLS context of a rediss:// store: TLS >= 1.2, peer verified against store_cafile. */
SSL_CTX *hb_redis_tls_context(const struct hb_config *cfg, char *why, size_t whylen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    int rc = -1;

    snprintf(why, whylen, "out of memory");
    if (ctx != NULL && SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        if (cfg->store_cafile == NULL)
            snprintf(why, whylen, "store_cafile: required with rediss://");
        else if (load_ca(ctx, cfg->store_cafile, why, whylen) == 0
                 && (cfg->store_cert == NULL || cfg->store_key == NULL
                     || load_client(ctx, cfg->store_cert, cfg->store_key, why, whylen) == 0))
            rc = 0;
    }
    ERR_clear_error();
    if (rc != 0) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}
#else
typedef int hb_store_redis_tls_unused;   /* built without hiredis_ssl: nothing here */
#endif

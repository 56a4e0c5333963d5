/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * files.h - open the files the module trusts (config file, secret files)
 * without following links and only when their owner and mode are safe.
 */
#ifndef HB_FILES_H
#define HB_FILES_H

#include <stddef.h>
#include <sys/types.h>

#define HB_SECRET_MAX 1024       /* bytes read from a secret file */
#define HB_SECRET_MIN 32         /* bytes a secret_file= must hold */

/*
 * Open path read-only, close-on-exec, without following a symlink; it must
 * be a regular file of at most max_size bytes, owned by root or the
 * effective user, with none of the forbidden mode bits.  Returns the fd,
 * or -1 with a reason (naming path) in why.
 */
int hb_open_trusted(const char *path, mode_t forbidden, off_t max_size, char *why, size_t whylen);

/*
 * Read a secret file: root-owned (or the effective user's), neither
 * readable nor writable by group or others, at most HB_SECRET_MAX bytes;
 * one trailing newline is dropped.  Fills buf (HB_SECRET_MAX bytes) and
 * *len; returns 0, or -1 with a reason in why.  The caller wipes buf.
 */
int hb_read_secret(const char *path, unsigned char *buf, size_t *len, char *why, size_t whylen);

#endif

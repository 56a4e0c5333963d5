/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * store_lmdb.h - internals of the "lmdb:/DIR" store backend: what only the
 * unit tests use, and what store_lmdb.c takes from store_lmdb_dir.c.  The
 * rest of the module knows the backend through store.h.
 */
#ifndef HB_STORE_LMDB_H
#define HB_STORE_LMDB_H

#include <stddef.h>

/*
 * Tests only: the LMDB map size of environments opened from now on
 * (default 64 MiB), so a test can fill a map quickly.  Not an option.
 */
void hb_store_lmdb_set_map_size(size_t bytes);

/*
 * store_lmdb_dir.c: check DIR of name ("lmdb:/DIR"), every parent on its
 * path and its files, creating what is missing; open write.lock into
 * *lock_fd and put into path (pathlen bytes) the name LMDB must open the
 * environment under (/proc/self/fd/N of the checked DIR, else DIR).
 * Returns DIR's descriptor (the caller closes it once the environment is
 * open), or -1 with err set.
 */
int hb_lmdb_prepare(const char *name, int *lock_fd, char *path, size_t pathlen, char *err, size_t errlen);

#endif

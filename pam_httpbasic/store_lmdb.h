/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * store_lmdb.h - internals of the "lmdb:/DIR" store backend that only the
 * unit tests use.  The module itself knows the backend through store.h.
 */
#ifndef HB_STORE_LMDB_H
#define HB_STORE_LMDB_H

#include <stddef.h>

/*
 * Tests only: the LMDB map size of environments opened from now on
 * (default 64 MiB), so a test can fill a map quickly.  Not an option.
 */
void hb_store_lmdb_set_map_size(size_t bytes);

#endif

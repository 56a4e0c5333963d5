/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_common.h - helpers shared by the libFuzzer targets in tests/fuzz.
 *
 * The targets link the module's own sources (options.c, validate.c, check.c)
 * and never call hb_check(): nothing here touches the network or PAM.
 */
#ifndef HB_FUZZ_COMMON_H
#define HB_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An invariant of the module: on violation say which one, then abort (a crash for libFuzzer). */
#define FUZZ_CHECK(cond)                                                              \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                  \
        }                                                                             \
    } while (0)

/* A NUL-terminated heap copy of len bytes (embedded NULs stay; C string ends at the first). */
static inline char *fuzz_strndup(const uint8_t *data, size_t len)
{
    char *s = malloc(len + 1);

    if (s == NULL)
        abort();
    if (len > 0)
        memcpy(s, data, len);
    s[len] = '\0';
    return s;
}

/* True when s has a byte below 0x20 or 0x7f. */
static inline bool fuzz_has_control(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char) *s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

/* True when the buffer of size len holds a NUL. */
static inline bool fuzz_terminated(const char *buf, size_t len)
{
    return memchr(buf, '\0', len) != NULL;
}

#endif

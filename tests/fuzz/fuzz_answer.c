/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_answer.c - libFuzzer target for answer.c: what the kept prefix of
 * an answer's body says (hb_503_kind, hb_207_account).  The input is the
 * body prefix (at most HB_BODY_PREFIX bytes, as check.c keeps it), passed
 * as a buffer of exactly its length (no NUL terminator) so that ASan sees
 * any read past the end.
 *
 * Invariants: both functions return for every input; the kind is one of
 * the three; without any '&' in the input, a refusal means the input
 * names OC\User\LoginException or OC\User\DisabledUserException, and
 * maintenance names OCA\DAV\Exception\ServerMaintenanceMode; the account
 * is NUL-terminated within HB_USER_BUF, "" exactly when none was found,
 * else non-empty with no control character, DEL or '/'.
 */
#include "check.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t len = size < HB_BODY_PREFIX ? size : HB_BODY_PREFIX;
    char *body = malloc(len > 0 ? len : 1);
    char account[HB_USER_BUF];
    enum hb_503 kind;
    bool found, has_amp;

    if (body == NULL)
        abort();
    if (len > 0)
        memcpy(body, data, len);
    has_amp = memchr(body, '&', len) != NULL;

    kind = hb_503_kind(body, len);
    FUZZ_CHECK(kind == HB_503_OTHER || kind == HB_503_MAINTENANCE || kind == HB_503_ACCOUNT_REFUSED);
    if (kind == HB_503_ACCOUNT_REFUSED && !has_amp)
        FUZZ_CHECK(memmem(body, len, "OC\\User\\LoginException", 22) != NULL
                   || memmem(body, len, "OC\\User\\DisabledUserException", 29) != NULL);
    if (kind == HB_503_MAINTENANCE && !has_amp)
        FUZZ_CHECK(memmem(body, len, "OCA\\DAV\\Exception\\ServerMaintenanceMode", 39) != NULL);

    memset(account, 'x', sizeof(account));
    found = hb_207_account(body, len, account);
    FUZZ_CHECK(fuzz_terminated(account, sizeof(account)));
    FUZZ_CHECK(found == (account[0] != '\0'));
    FUZZ_CHECK(!fuzz_has_control(account));
    FUZZ_CHECK(strchr(account, '/') == NULL);
    if (found && !has_amp)
        FUZZ_CHECK(memmem(body, len, "/principals/users/", 18) != NULL);
    free(body);
    return 0;
}

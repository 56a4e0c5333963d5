#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# pam_exec_check.sh URL CAFILE - what an admin writes by hand to check a
# login against Nextcloud: one curl PROPFIND per login, started by
#   auth required pam_exec.so expose_authtok quiet /path/pam_exec_check.sh URL CAFILE
# pam_exec gives the user in PAM_USER, the client address in PAM_RHOST and
# the password on stdin.  Exit 0 (login ok) only for a 207 answer.
# (Bench only: the password ends up in curl's argv, visible in ps.)
url=$1
cafile=$2
IFS= read -r password
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 --cacert "$cafile" \
    -X PROPFIND -H 'Depth: 0' -H "X-Forwarded-For: $PAM_RHOST" \
    -u "$PAM_USER:$password" "$url")
[ "$code" = 207 ]

#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Several servers (url repeated or listed): the next server is tried only
# after no usable answer; 401 and 429 are final; a server that gave no
# answer rests for server_retry_after seconds within the process.
. "$(dirname "$0")/lib.sh"
need_module
start_webdav
PW=Alice-App-Pass-1
CLOSED=$(closed_port)
CLOSED2=$(closed_port)
DOWN=https://127.0.0.1:$CLOSED/remote.php/dav/
DOWN2=https://127.0.0.1:$CLOSED2/remote.php/dav/
# The same Apache under another name, so the log line tells which one answered.
OTHER=https://localhost:$WD_PORT/remote.php/dav/

count_ok() { grep -c "^authenticate=$1" "$OUT"; }

write_service failover "url=$DOWN" "url=$WD_URL" "cafile=$WD_CA"
log_mark
run_driver --password "$PW" failover alice
is "$AUTH" PAM_SUCCESS "first server down, second up: PAM_SUCCESS"
like "$(module_log)" "server 127\\.0\\.0\\.1:$CLOSED gave no usable answer.*trying the next one" "the failed first server is logged"
is "$(module_log_prio | grep 'gave no usable answer' | cut -d' ' -f1)" 4 "the failed server is logged as a warning"
like "$(module_log)" "^auth ok: user=alice .*server=127\\.0\\.0\\.1:$WD_PORT status=207 .*tried=2 skipped=0" \
    "decision line names the server that answered, tried=2 skipped=0"
is "$(log_count_new)" 1 "one request reached the working server"

write_service wrongfinal "url=$WD_URL" "url=$OTHER" "cafile=$WD_CA"
log_mark
run_driver --password wrong wrongfinal alice
is "$AUTH" PAM_AUTH_ERR "401 from the first server is final: PAM_AUTH_ERR"
is "$(log_count_new)" 1 "a wrong password is sent to one server only"

write_service throttlefinal "url=$WD_BASE/status/429/" "url=$WD_URL" "cafile=$WD_CA"
log_mark
run_driver --password "$PW" throttlefinal alice
is "$AUTH" PAM_MAXTRIES "429 from the first server is final: PAM_MAXTRIES"
is "$(log_count_new)" 1 "a throttled login is not retried elsewhere"

write_service after503 "url=$WD_BASE/status/503/" "url=$WD_URL" "cafile=$WD_CA"
log_mark
run_driver --repeat 2 --password "$PW" after503 alice
is "$(count_ok PAM_SUCCESS)" 2 "first server answers 503: the second one decides (2 logins)"
is "$(log_new | grep -c 'uri="/status/503/"')" 2 "a server answering 503 is not rested: asked at both logins"
like "$(module_log)" 'tried=2 skipped=0' "503 then 207: tried=2 skipped=0"

write_service redirect "url=$WD_BASE/status/302/" "url=$WD_URL" "cafile=$WD_CA"
run_driver --password "$PW" redirect alice
is "$AUTH" PAM_SUCCESS "first server redirects: the second one decides"

# Resting: within one process, a server that did not answer is skipped.
write_service rest "url=$DOWN" "url=$WD_URL" "cafile=$WD_CA"
run_driver --repeat 3 --password "$PW" rest alice
is "$(count_ok PAM_SUCCESS)" 3 "3 logins with the first server down: all PAM_SUCCESS"
is "$(module_log | grep -c 'tried=2 skipped=0')" 1 "first login tries both servers"
is "$(module_log | grep -c 'tried=1 skipped=1')" 2 "later logins skip the resting server"
write_service norest "url=$DOWN" "url=$WD_URL" "cafile=$WD_CA" server_retry_after=0
run_driver --repeat 3 --password "$PW" norest alice
is "$(module_log | grep -c 'tried=2 skipped=0')" 3 "server_retry_after=0: the down server is tried every time"
write_service shortrest "url=$DOWN" "url=$WD_URL" "cafile=$WD_CA" server_retry_after=1
run_driver --repeat 2 --pause 1500 --password "$PW" shortrest alice
is "$(module_log | grep -c 'tried=2 skipped=0')" 2 "server_retry_after=1: after 1.5 s the server gets traffic again"

write_service alldown "url=$DOWN" "url=$DOWN2" "cafile=$WD_CA"
run_driver --repeat 2 --password "$PW" alldown alice
is "$(count_ok PAM_AUTHINFO_UNAVAIL)" 2 "all servers down: PAM_AUTHINFO_UNAVAIL"
is "$(module_log | grep -c 'auth unavailable: .*tried=2')" 2 "all servers resting: all are tried anyway"

# Timeouts apply per server: a hung first server leaves the second its budget.
start_fault hang tls
write_service hung "url=https://127.0.0.1:$FAULT_PORT/remote.php/dav/" "url=$WD_URL" "cafile=$WD_CA" \
    timeout=1500 connect_timeout=1000
run_driver --password "$PW" hung alice
is "$AUTH" PAM_SUCCESS "first server hangs (timeout=1500): the second one answers"
# The hung server's timeout is confirmed by an anonymous request (bounded
# by connect_timeout) before it rests: 1.5 s + 1 s before the second server.
ok '[ "$ELAPSED_MS" -ge 2400 ] && [ "$ELAPSED_MS" -lt 6000 ]' \
    "hung first server: one timeout and one connect_timeout (the outage confirmed) spent ($ELAPSED_MS ms)"
is "$(grep -c 'method=GET' "$FAULT_LOG")" 1 "hung first server: confirmed by one anonymous GET"

# Configuration: up to 4 servers, lists in the file, arguments replace the file's list.
write_service four "url=$DOWN" "url=$DOWN2" "url=$DOWN" "url=$WD_URL" "cafile=$WD_CA" server_retry_after=0
run_driver --password "$PW" four alice
is "$AUTH" PAM_SUCCESS "4 servers, the last one up: PAM_SUCCESS"
write_service five "url=$DOWN" "url=$DOWN2" "url=$DOWN" "url=$DOWN2" "url=$WD_URL" "cafile=$WD_CA"
run_driver --password "$PW" five alice
is "$AUTH" PAM_SERVICE_ERR "5 servers: PAM_SERVICE_ERR"
write_service mixed "url=$DOWN" "url=http://127.0.0.1:$WD_HTTP_PORT/remote.php/dav/" "cafile=$WD_CA"
run_driver --password "$PW" mixed alice
is "$AUTH" PAM_SERVICE_ERR "an http:// server in the list without allow_http: PAM_SERVICE_ERR"
for bad in server_retry_after=-1 server_retry_after=3601 server_retry_after=x; do
    write_service badretry "url=$DOWN" "url=$WD_URL" "cafile=$WD_CA" "$bad"
    run_driver --password "$PW" badretry alice
    is "$AUTH" PAM_SERVICE_ERR "'$bad': PAM_SERVICE_ERR"
done

CONF=$TEST_TMP/servers.conf
printf 'url = %s %s\ncafile = %s\n' "$DOWN" "$WD_URL" "$WD_CA" >"$CONF"
chmod 0600 "$CONF"
write_service conflist "config=$CONF"
run_driver --password "$PW" conflist alice
is "$AUTH" PAM_SUCCESS "config file listing two servers: PAM_SUCCESS"
like "$(module_log)" 'tried=2' "config file list: both servers tried"
write_service confreplace "config=$CONF" "url=$DOWN2"
run_driver --password "$PW" confreplace alice
is "$AUTH" PAM_AUTHINFO_UNAVAIL "url argument replaces the file's list (only the down server is left)"

done_testing

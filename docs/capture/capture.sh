#!/usr/bin/env bash
# The book's captured output: runs the chapters' servers the way their pages tell the reader to,
# and writes what each command printed into OUT_DIR, where the pages include it (\verbinclude).
# So the output on a page is the output of the code on that page, never typed by hand.
#
#   capture.sh BIN_DIR OUT_DIR
#
# Loopback only, port 0, every wait bounded by a deadline, every server stopped by its pid (and
# killed if it does not stop) however this script ends. A server that does not behave fails the
# script, and with it the book.
set -euo pipefail

bin=$1
out=$2
mkdir -p "$out"
work=$(mktemp -d)
started=()

cleanup() {
    local pid
    for pid in "${started[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

fail() {
    echo "capture: $*" >&2
    exit 1
}

# wait_for SECONDS COMMAND...: polls COMMAND every 50 ms until it succeeds or the time is up.
wait_for() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.05
    done
}

has_line() { [[ -s $1 ]] && grep -q "$2" "$1"; }
gone() { ! kill -0 "$1" 2>/dev/null; }

# start NAME ARGS...: starts build's NAME in its own session, waits for the readiness line;
# sets $pid and $port.
start() {
    local name=$1
    shift
    setsid "$bin/$name" --listen 127.0.0.1:0 "$@" >"$work/$name.ready" 2>"$work/$name.err" &
    pid=$!
    started+=("$pid")
    wait_for 10 has_line "$work/$name.ready" "listening on" ||
        fail "$name printed no readiness line: $(cat "$work/$name.err")"
    port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$work/$name.ready")
}

# stop PID: a graceful stop, bounded.
stop() {
    kill -QUIT "$1" 2>/dev/null || true
    wait_for 15 gone "$1" || fail "pid $1 did not stop after QUIT"
}

# get PORT PATH: the server's whole reply to one GET, through bash's own /dev/tcp (the kit's
# smallest client: the request curl sends, less its User-Agent and Accept headers, plus
# `Connection: close` so that chapter 05's keep-alive ends with the reply).
get() {
    local reply
    exec 3<>"/dev/tcp/127.0.0.1/$1"
    printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n' "$2" "$1" >&3
    reply=$(timeout 10 cat <&3 | tr -d '\r')
    exec 3<&-
    printf '%s\n' "$reply"
}
body() { get "$1" "$2" | sed '1,/^$/d'; }

# forest PGID: the process tree of one process group, as `ps ... --forest -g PGID` prints it.
# The build and scratch directories are printed as the page's names for them.
forest() { ps -o pid,ppid,stat,cmd --forest -g "$1" | sed "s|$bin/||g; s|$work|\$dir|g"; }

# ---- Chapter 01: one child per connection ---------------------------------------------------
start ch01_fork_server --log-file "$work/ch01.log"
ch01=$pid
cp "$work/ch01_fork_server.ready" "$out/capture_ch01_ready.txt"
get "$port" / >"$out/capture_ch01_hello.txt"
{
    body "$port" /pid
    body "$port" /pid
    body "$port" /pid
} >"$out/capture_ch01_pid.txt"
body "$port" /status >"$out/capture_ch01_status.txt"
(body "$port" /sleep/3000 >/dev/null) &
sleeper=$!
started+=("$sleeper")
two_processes() { [[ $(ps -o pid= -g "$ch01" | wc -l) -ge 2 ]]; }
wait_for 10 two_processes || fail "ch01 forked no child for /sleep"
forest "$ch01" >"$out/capture_ch01_forest.txt"
wait "$sleeper" || true
stop "$ch01"

# ---- Chapter 02: a daemon -------------------------------------------------------------------
run="$work/run"
mkdir -m 0700 "$run"
"$bin/ch02_daemon" --listen 127.0.0.1:0 --pid-file "$run/pid" --log-file "$run/log" \
    >"$work/ch02.ready" 2>&1 </dev/null || fail "ch02 launcher failed: $(cat "$work/ch02.ready")"
daemon=$(cat "$run/pid")
started+=("$daemon")
port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$work/ch02.ready")
{
    echo "\$ ch02_daemon --listen 127.0.0.1:0 --pid-file \$run/pid --log-file \$run/log; echo \$?"
    cat "$work/ch02.ready"
    echo 0
    echo "\$ ps -o pid,ppid,pgid,sid,tty,cmd -p \$(cat \$run/pid)"
    ps -o pid,ppid,pgid,sid,tty,cmd -p "$daemon" | sed "s|$run|\$run|g; s|$bin/||"
    echo "\$ ch02_daemon --listen 127.0.0.1:0 --pid-file \$run/pid; echo \$?"
    set +e
    "$bin/ch02_daemon" --listen 127.0.0.1:0 --pid-file "$run/pid" </dev/null 2>&1 |
        sed "s|$bin/||"
    echo "${PIPESTATUS[0]}"
    set -e
} >"$out/capture_ch02_run.txt"
body "$port" / >/dev/null
stop "$daemon"
sed -E "s|$run|\$run|g" "$run/log" >"$out/capture_ch02_log.txt"

# ---- Chapter 03: a prefork pool under an accept lock ----------------------------------------
start ch03_prefork_flock --workers 4 --log-file "$work/ch03.log"
ch03=$pid
workers() { ps -o pid= --ppid "$ch03" | tr -d ' '; }
four_waiting() {
    local n=0 w
    for w in $(workers); do
        grep -Eq "FLOCK .* $w [0-9a-f:]+ " /proc/locks && n=$((n + 1))
    done
    ((n == 4))
}
wait_for 10 four_waiting || fail "ch03: four workers did not all hold or wait for the lock"
forest "$ch03" >"$out/capture_ch03_forest.txt"
body "$port" /status >"$out/capture_ch03_status.txt"
# /proc/locks lists every lock of the machine: keep the lines of this pool's workers.
pattern=$(workers | paste -sd'|')
grep -E "FLOCK .* ($pattern) " /proc/locks >"$out/capture_ch03_locks.txt" || true
[[ $(wc -l <"$out/capture_ch03_locks.txt") -eq 4 ]] || fail "ch03: not 4 lines in /proc/locks"
# A rolling restart under load: a slow request in flight when HUP arrives.
(body "$port" /sleep/400 >/dev/null) &
slow=$!
started+=("$slow")
# In flight once /status shows two busy workers: the sleeper's and the one answering /status.
slow_in_flight() { [[ $(body "$port" /status | grep -c busy) -ge 2 ]]; }
wait_for 10 slow_in_flight || fail "ch03: the slow request never reached a worker"
kill -HUP "$ch03"
wait_for 15 grep -q "every worker replaced" "$work/ch03.log" || fail "ch03: HUP did not finish"
wait "$slow" || true
stop "$ch03"
# The restart's lines, from the HUP to the last replacement.
sed -n '/HUP: replacing/,/every worker replaced/p' "$work/ch03.log" >"$out/capture_ch03_hup.txt"
bash "$(dirname "$0")/timeline.sh" "$work/ch03.log" >"$out/capture_ch03_timeline.svg"
cp "$out/capture_ch03_timeline.svg" "$out/ch03_rolling_restart.svg"

# ---- Chapter 04: an adaptive pool -------------------------------------------------------------
start ch04_adaptive_pool --log-file "$work/ch04.log"
ch04=$pid
forest "$ch04" >"$out/capture_ch04_forest.txt"
body "$port" /status >"$out/capture_ch04_status.txt"
stop "$ch04"

# ---- Chapter 05: epoll workers fed by the master ----------------------------------------------
start ch05_fd_passing --workers 3 --log-file "$work/ch05.log"
ch05=$pid
body "$port" /status >"$out/capture_ch05_status.txt"
(body "$port" /sleep/400 >/dev/null) &
slow=$!
started+=("$slow")
# In flight once the workers hold two open connections: the sleeper's and the /status request's.
two_open() {
    body "$port" /status | awk '{ for (i = 1; i < NF; i++) if ($i == "open") n += $(i + 1) + 0 }
                                END { exit !(n >= 2) }'
}
wait_for 10 two_open || fail "ch05: the slow request never reached a worker"
kill -HUP "$ch05"
wait_for 15 grep -q "every worker replaced" "$work/ch05.log" || fail "ch05: HUP did not finish"
wait "$slow" || true
stop "$ch05"
sed -n '/HUP: replacing/,/every worker replaced/p' "$work/ch05.log" >"$out/capture_ch05_hup.txt"
bash "$(dirname "$0")/timeline.sh" "$work/ch05.log" >"$out/ch05_rolling_restart.svg"

for f in "$out"/capture_*; do
    [[ -s $f ]] || fail "$f is empty"
done
touch "$out/stamp"

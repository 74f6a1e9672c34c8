# bench/lib.sh: shared helpers of ird's benchmarks (sourced by bench/*/run).
# Owns the temp dir, the servers it starts (stopped by PID on exit), the wrk
# invocation and the parsing of its machine-readable result line.
# shellcheck shell=bash

set -euo pipefail

DURATION=${DURATION:-10s}
ACCESS_LOG=${ACCESS_LOG:-on}
case "$ACCESS_LOG" in on | off) ;; *) echo "bench: ACCESS_LOG must be on or off" >&2; exit 2 ;; esac
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
BENCH_PIDS=()
BENCH_TMP=

bench_die() {
    echo "bench: FAIL: $*" >&2
    exit 1
}

# bench_need CMD...: every command must exist, else say how to install it.
bench_need() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 ||
            bench_die "'$c' not found; install the bench tools with: apt-get install -y wrk nginx-light webhook"
    done
}

# Stop what we started, newest first, by PID: TERM, a grace period, then KILL.
bench_cleanup() {
    local i pid n
    for ((i = ${#BENCH_PIDS[@]} - 1; i >= 0; i--)); do
        pid=${BENCH_PIDS[i]}
        kill -0 "$pid" 2>/dev/null || continue
        kill -TERM "$pid" 2>/dev/null || true
        for ((n = 0; n < 50; n++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    BENCH_PIDS=()
    if [ -n "$BENCH_TMP" ] && [ -d "$BENCH_TMP" ]; then
        rm -rf -- "$BENCH_TMP"
    fi
}

# bench_init: make the temp dir and arm the EXIT trap.
bench_init() {
    BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/ird-bench.XXXXXX")
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
}

bench_track() { BENCH_PIDS+=("$1"); }

# bench_stop PID: stop one server now (and forget it).
bench_stop() {
    local pid=$1 n keep=() p
    kill -TERM "$pid" 2>/dev/null || true
    for ((n = 0; n < 100; n++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    for p in "${BENCH_PIDS[@]}"; do
        [ "$p" = "$pid" ] || keep+=("$p")
    done
    BENCH_PIDS=("${keep[@]+"${keep[@]}"}")
}

# bench_free_port: print a TCP port free on 127.0.0.1 right now.
bench_free_port() {
    /usr/bin/python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# bench_wait_port PORT PID: wait until 127.0.0.1:PORT accepts, while PID lives.
bench_wait_port() {
    local port=$1 pid=$2 n
    for ((n = 0; n < 100; n++)); do
        kill -0 "$pid" 2>/dev/null || return 1
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# bench_ird_listen: the config lines for ird's listeners and log. With access
# logs on (the default) ird logs at info, picks its ports and says which in
# its `listening` line; with ACCESS_LOG=off it logs at warn (no line per
# request, and no listening line), so the ports are chosen here. Sets IRD_PORT
# to the fixed port, or empty.
bench_ird_listen() {
    if [ "$ACCESS_LOG" = off ]; then
        IRD_PORT=$(bench_free_port)
        echo "listen = { webhooks = \"127.0.0.1:$IRD_PORT\"; api = \"127.0.0.1:$(bench_free_port)\"; };"
        echo 'log = { level = "warn"; format = "json"; };'
    else
        IRD_PORT=
        echo 'listen = { webhooks = "127.0.0.1:0"; api = "127.0.0.1:0"; };'
        echo 'log = { level = "info"; format = "json"; };'
    fi
}

# bench_start_ird BIN CONF LOG: start `ird serve` on a config that holds
# bench_ird_listen's lines, wait until it listens, set IRD_PID and IRD_PORT
# (the webhooks listener).
bench_start_ird() {
    local bin=$1 conf=$2 log=$3 n line
    "$bin" serve -c "$conf" 2>"$log" &
    IRD_PID=$!
    bench_track "$IRD_PID"
    if [ -n "$IRD_PORT" ]; then
        bench_wait_port "$IRD_PORT" "$IRD_PID" && return 0
        sed 's/^/  ird: /' "$log" >&2
        bench_die "ird did not start listening on 127.0.0.1:$IRD_PORT"
    fi
    for ((n = 0; n < 100; n++)); do
        line=$(grep -m1 '"msg":"listening"' "$log" 2>/dev/null || true)
        if [ -n "$line" ]; then
            IRD_PORT=$(printf '%s\n' "$line" | sed -n 's/.*"webhooks":"127\.0\.0\.1:\([0-9]*\)".*/\1/p')
            break
        fi
        kill -0 "$IRD_PID" 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "$IRD_PORT" ]; then
        sed 's/^/  ird: /' "$log" >&2
        bench_die "ird did not start (no listening line in its log)"
    fi
}

# bench_start_nginx DIR: Debian nginx-light, one worker, `return 204` on every
# path, loopback only, everything it writes inside DIR. Sets NGINX_PID, NGINX_PORT.
bench_start_nginx() {
    local dir=$1 user='' access_log=off
    mkdir -p "$dir/body"
    [ "$ACCESS_LOG" = on ] && access_log="$dir/access.log"
    NGINX_PORT=$(bench_free_port)
    # As root the worker would switch to nobody; keep it as root so it can
    # use the temp dir (nothing is served from disk).
    [ "$(id -u)" = 0 ] && user="user root;"
    cat >"$dir/nginx.conf" <<EOF
$user
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
    access_log $access_log;
    client_body_temp_path $dir/body;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location / { return 204; }
    }
}
EOF
    nginx -p "$dir" -c "$dir/nginx.conf" 2>"$dir/stderr.log" &
    NGINX_PID=$!
    bench_track "$NGINX_PID"
    if ! bench_wait_port "$NGINX_PORT" "$NGINX_PID"; then
        cat "$dir/stderr.log" "$dir/error.log" >&2 2>/dev/null || true
        bench_die "nginx did not start"
    fi
}

# bench_expect_status WANT URL CURL-ARGS...: one request before the load, so
# a misconfigured target fails here with its answer shown.
bench_expect_status() {
    local want=$1 url=$2 got
    shift 2
    got=$(curl -s -o "$BENCH_TMP/preflight.out" -w '%{http_code}' "$@" "$url" || true)
    if [ "$got" != "$want" ]; then
        echo "  answer: $(head -c 300 "$BENCH_TMP/preflight.out" 2>/dev/null)" >&2
        bench_die "$url answered $got to a single request, expected $want"
    fi
}

# bench_wrk TARGET LUA URL [WRK-ARGS...] [-- LUA-ARGS...]: run wrk, echo its
# output, keep the result line in RESULT_<TARGET> and fail loudly if any
# answer was not 2xx or the socket errors say the run is not trustworthy.
bench_wrk() {
    local target=$1 lua=$2 url=$3 out line bad
    shift 3
    out="$BENCH_TMP/wrk-$target.out"
    echo "== $target: wrk -t$THREADS -c$CONNECTIONS -d$DURATION POST $url (load average before: $(cut -d' ' -f1-3 /proc/loadavg))"
    BENCH_TARGET=$target wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -s "$lua" "$@" "$url" >"$out" 2>&1 ||
        { cat "$out"; bench_die "wrk failed against $target"; }
    sed 's/^/   /' "$out"
    line=$(grep -m1 "^result " "$out" || true)
    [ -n "$line" ] || bench_die "no result line from wrk for $target"
    printf -v "RESULT_${target//[^A-Za-z0-9]/_}" '%s' "$line"
    bad=$(bench_field "$line" non2xx)
    [ "$bad" = 0 ] || bench_die "$target answered $bad non-2xx responses: the figures above are not a benchmark of the success path"
    bad=$(($(bench_field "$line" connect_errors) + $(bench_field "$line" read_errors) + $(bench_field "$line" write_errors)))
    [ "$bad" = 0 ] || echo "   WARNING: $target had $bad socket errors (see the result line)"
    bad=$(bench_field "$line" timeouts)
    [ "$bad" = 0 ] || echo "   WARNING: $target had $bad requests time out (> 2 s)"
}

# bench_field LINE KEY: the value of key=value in a result line.
bench_field() {
    printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# bench_result TARGET KEY: a field of TARGET's stored result line.
bench_result() {
    local v="RESULT_${1//[^A-Za-z0-9]/_}"
    bench_field "${!v}" "$2"
}

# bench_ratio A B KEY LABEL: print `ratio A/B LABEL: x.xx`.
bench_ratio() {
    local a b
    a=$(bench_result "$1" "$3")
    b=$(bench_result "$2" "$3")
    awk -v a="$a" -v b="$b" -v l="ratio $1/$2 $4:" 'BEGIN { if (b > 0) printf "%s %.2f\n", l, a / b; else printf "%s n/a\n", l }'
}

# bench_summary TARGET: one human line per target.
bench_summary() {
    printf '%-14s requests/s: %10s   p50: %6s ms   p99: %6s ms\n' "$1" \
        "$(bench_result "$1" rps)" "$(bench_result "$1" p50_ms)" "$(bench_result "$1" p99_ms)"
}

# bench_machine: what the figures were measured on.
bench_machine() {
    echo "machine: $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), wrk -t$THREADS -c$CONNECTIONS -d$DURATION, access logs $ACCESS_LOG; wrk and the server share these cores"
}

#!/bin/sh
# compare.sh BIN ETCDBENCH: issue 14's comparison table in one run on this
# machine, fsync on everywhere, loopback, 16-byte keys and 100-byte values,
# with clients grapevine did not write:
#   grapevine over HTTP   wrk with put.lua (unique keys, keep-alive), 64 connections and 1
#   grapevine over RESP   redis-benchmark -t set, 50 clients and 1 (if the daemon has --resp)
#   etcd, one member      etcdbench (the etcd Go client), 64 goroutines over 8 connections, and 1
#   Redis                 appendonly yes, appendfsync always; redis-benchmark -t set, 50 clients and 1
#   raw fdatasync         p50 of a 128-byte append (grapevine bench --baseline), same disk
# plus grapevine's own `grapevine bench put` over HTTP, and the goals' ratios;
# beside each p50, the CPU time the server spent per write (from /proc).
# Every server runs in a temporary directory on 127.0.0.1 and is stopped by
# its PID at the end. RUNS rounds (default 3) each take every measurement
# once, in turn, against the same servers with keys of their own; the table
# gives each cell's median and the goals' ratios are taken round by round,
# then their median, as issue 14 asks (the machine is shared and noisy).
# DURATION (seconds per measurement, default 5), N and N1 (redis-benchmark
# requests with 50 clients and with 1; default 100000 and 3000). Needs wrk,
# redis-server, redis-benchmark, redis-cli and etcd (make bench-compare
# installs them).
set -eu
BIN=${1:-bin/grapevine}
ETCDBENCH=${2:-bin/etcdbench}
# BINBENCH measures the fdatasync baseline (BIN, unless BIN has no bench command).
BINBENCH=${BINBENCH:-$BIN}
DURATION=${DURATION:-5}
RUNS=${RUNS:-3}
N=${N:-100000}
N1=${N1:-3000}
tmp=$(mktemp -d)
gpid= rpid= epid=
cleanup() {
	rc=$?
	for p in $gpid $rpid $epid; do
		kill "$p" 2>/dev/null && { wait "$p" 2>/dev/null || true; }
	done
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_for WHAT CMD...: until CMD succeeds, at most 30 s.
wait_for() {
	what=$1; shift
	i=0
	until "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -gt 300 ]; then echo "bench-compare: $what did not start" >&2; return 1; fi
		sleep 0.1
	done
}

# randport: a port in 20000..39999 (servers that cannot take port 0 retry).
randport() { echo $(( 20000 + $(od -An -N2 -tu2 /dev/urandom) % 20000 )); }

# --- grapevine (its API and, if it has one, its RESP door on ports the kernel picks)
resp=
if "$BIN" daemon --help 2>/dev/null | grep -q -- --resp; then resp="--resp 127.0.0.1:0"; fi
# shellcheck disable=SC2086 # $resp is two words or none
"$BIN" daemon --data "$tmp/grapevine" --api 127.0.0.1:0 --listen /ip4/127.0.0.1/tcp/0 \
	--mdns=false --network bench-compare --log-level info --log-format text $resp \
	>"$tmp/grapevine.log" 2>&1 &
gpid=$!
wait_for grapevine test -s "$tmp/grapevine/api" || { cat "$tmp/grapevine.log"; exit 1; }
gapi=$(cat "$tmp/grapevine/api")
gresp=
if [ -n "$resp" ]; then
	wait_for "grapevine's RESP door" grep -q 'Redis protocol (RESP) listening' "$tmp/grapevine.log" || { cat "$tmp/grapevine.log"; exit 1; }
	gresp=$(sed -n 's/.*Redis protocol (RESP) listening" addr=127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/grapevine.log" | head -1)
fi

# --- Redis, durable: every write fsynced before the reply
mkdir "$tmp/redis"
for try in 1 2 3 4 5; do
	rport=$(randport)
	redis-server --port "$rport" --bind 127.0.0.1 --dir "$tmp/redis" --appendonly yes \
		--appendfsync always --save '' --daemonize no >"$tmp/redis.log" 2>&1 &
	rpid=$!
	if wait_for redis-server redis-cli -p "$rport" ping; then break; fi
	kill "$rpid" 2>/dev/null; rpid=
done
[ -n "$rpid" ] || { cat "$tmp/redis.log"; exit 1; }

# --- etcd, a single member (fsync on, as by default)
for try in 1 2 3 4 5; do
	eport=$(randport); epeer=$(randport)
	etcd --name bench --data-dir "$tmp/etcd" \
		--listen-client-urls "http://127.0.0.1:$eport" --advertise-client-urls "http://127.0.0.1:$eport" \
		--listen-peer-urls "http://127.0.0.1:$epeer" --initial-advertise-peer-urls "http://127.0.0.1:$epeer" \
		--initial-cluster "bench=http://127.0.0.1:$epeer" >"$tmp/etcd.log" 2>&1 &
	epid=$!
	if wait_for etcd grep -q 'ready to serve client requests' "$tmp/etcd.log"; then break; fi
	kill "$epid" 2>/dev/null; wait "$epid" 2>/dev/null || true; epid=; rm -rf "$tmp/etcd"
done
[ -n "$epid" ] || { cat "$tmp/etcd.log"; exit 1; }

# --- measurements; each prints "RATE P50 OPS" (P50 with its unit, OPS the
# operations done), or "- - -" if there is nothing to measure. No
# measurement overwrites another's keys:
# first CLIENTS numbers them from a point of their own in each ROUND (0, 1, ...).
first() { echo $(( ROUND * 1000000000000 + $1 * 10000000000 )); }
# wrk_put CONNS: grapevine over HTTP with wrk.
wrk_put() {
	threads=$(( $1 < 2 ? 1 : 2 ))
	wrk -t"$threads" -c"$1" -d"${DURATION}s" --latency -s internal/bench/put.lua "http://$gapi" -- "$(first "$1")" >"$tmp/wrk.txt"
	if grep -q 'Non-2xx' "$tmp/wrk.txt"; then echo "bench-compare: wrk saw errors:" >&2; cat "$tmp/wrk.txt" >&2; fi
	rate=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$tmp/wrk.txt")
	p50=$(awk '$1 == "50%" {print $2}' "$tmp/wrk.txt")
	echo "$rate $p50 $(awk '/ requests in / {print $1}' "$tmp/wrk.txt")"
}
# gv_put CLIENTS: grapevine over HTTP with grapevine bench (the Go client).
gv_put() {
	if ! "$BIN" bench --help >/dev/null 2>&1; then echo "- - -"; return; fi # an older binary
	"$BIN" bench put --api "$gapi" --clients "$1" --duration "${DURATION}s" --first-key "$(first "$1")" >"$tmp/gv.txt"
	awk 'NR == 2 {print $(NF-4), $(NF-3), $(NF-6)}' "$tmp/gv.txt"
}
# rb_set PORT CLIENTS REQUESTS: redis-benchmark SETs (of random keys out of a
# million: redis-benchmark has no other way to vary them).
rb_set() {
	if [ -z "$1" ]; then echo "- - -"; return; fi
	redis-benchmark -h 127.0.0.1 -p "$1" -c "$2" -n "$3" -t set -d 100 -r 1000000 -q 2>/dev/null |
		tr '\r' '\n' | grep '^SET:' | tail -1 |
		sed -n 's/^SET: \([0-9.]*\) requests per second, p50=\([0-9.]*\) msec.*/\1 \2ms/p' |
		awk -v n="$3" '{printf "%.0f %s %d\n", $1, $2, n}'
}
# etcd_put CLIENTS CONNS: etcd with its Go client.
etcd_put() {
	"$ETCDBENCH" -endpoints "127.0.0.1:$eport" -clients "$1" -conns "$2" -duration "${DURATION}s" -first "$(first "$1")" |
		sed -n 's/.*puts\/s=\([0-9]*\) p50_us=\([0-9]*\).* ops=\([0-9]*\).*/\1 \2µs \3/p'
}
# fsync_p50: the p50 of a raw fdatasync of a 128-byte append on the same disk.
fsync_p50() {
	rm -rf "$tmp/embedded"
	"$BINBENCH" bench put --embedded --data "$tmp/embedded" --baseline --clients 1 --duration "${DURATION}s" >"$tmp/base.txt"
	echo "- $(awk '/^ *fdatasync 128 B append/ {print $(NF-3)}' "$tmp/base.txt") -"
}

# usec P50: microseconds of a p50 as the tools print it (604.00us, 598µs, 2.167ms, 1.2s).
usec() {
	echo "$1" | awk '{v = $1
		if (v == "" || v == "-") { print "-"; next }
		if (v ~ /ms$/) { sub(/ms$/, "", v); v *= 1000 }
		else if (v ~ /(µs|us)$/) { sub(/(µs|us)$/, "", v) }
		else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000000 }
		print v}'
}
# cpu_ticks PID: the CPU time PID has used so far (user and system), in
# clock ticks; "-" without a PID.
cpu_ticks() { if [ -n "$1" ]; then awk '{print $14 + $15}' "/proc/$1/stat"; else echo -; fi; }
TCK=$(getconf CLK_TCK)
# measure NAME PID CMD...: runs the measurement CMD and keeps NAME's rate,
# p50 (in µs) and the CPU time PID (the server) used per operation (in µs)
# as a line "NAME RATE P50 CPU" of $tmp/results.
measure() {
	name=$1 pid=$2; shift 2
	c0=$(cpu_ticks "$pid")
	out=$("$@")
	c1=$(cpu_ticks "$pid")
	# shellcheck disable=SC2086 # out is three words
	set -- $out
	cpu=$(awk -v a="$c0" -v b="$c1" -v t="$TCK" -v n="${3:--}" \
		'BEGIN { if (a == "-" || n == "-" || n + 0 <= 0) print "-"; else printf "%.1f\n", (b - a) * 1e6 / t / n }')
	echo "$name ${1:--} $(usec "${2:--}") $cpu" >>"$tmp/results"
}

echo "bench-compare: $RUNS round(s) of $DURATION s per measurement; $("$BIN" version 2>/dev/null | head -1), Redis $(redis-server --version | cut -d' ' -f3 | sed 's/^v=//'), etcd $(etcd --version 2>/dev/null | sed -n 's/^etcd Version: //p')" >&2
[ -n "$gresp" ] || echo "bench-compare: this grapevine has no --resp: no RESP row" >&2
: >"$tmp/results"
ROUND=0
while [ "$ROUND" -lt "$RUNS" ]; do
	[ "$RUNS" -gt 1 ] && echo "bench-compare: round $(( ROUND + 1 )) of $RUNS" >&2
	measure g64 "$gpid" wrk_put 64;  measure g1 "$gpid" wrk_put 1
	measure o64 "$gpid" gv_put 64;   measure o1 "$gpid" gv_put 1
	measure s50 "$gpid" rb_set "$gresp" 50 "$N"; measure s1 "$gpid" rb_set "$gresp" 1 "$N1"
	measure e64 "$epid" etcd_put 64 8; measure e1 "$epid" etcd_put 1 1
	measure r50 "$rpid" rb_set "$rport" 50 "$N"; measure r1 "$rpid" rb_set "$rport" 1 "$N1"
	measure fsync "" fsync_p50
	ROUND=$(( ROUND + 1 ))
done

# values NAME FIELD: that field (2 the rate, 3 the p50, 4 the server's CPU
# per operation, both in µs) of NAME's rounds, in order.
values() { awk -v n="$1" -v f="$2" '$1 == n {print $f}' "$tmp/results"; }
# median: the median of the numbers on standard input ("-" if there are none).
median() {
	grep -v '^-$' | sort -g | awk '{v[NR] = $1} END {
		if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# rate NAME, p50 NAME: NAME's medians, as printed in the table.
rate() { values "$1" 2 | median | awk '{ if ($1 == "-") print "-"; else printf "%.0f\n", $1 }'; }
p50() {
	values "$1" 3 | median | awk '{ if ($1 == "-") print "-"; else if ($1 >= 1000) printf "%.2fms\n", $1 / 1000; else printf "%.0fµs\n", $1 }'
}
cpu() { values "$1" 4 | median | awk '{ if ($1 == "-") print "-"; else printf "%.0fµs\n", $1 }'; }
row() { # LABEL NAME64 NAME1
	printf '| %-44s | %10s | %9s | %7s | %8s | %9s | %7s |\n' "$1" "$(rate "$2")" "$(p50 "$2")" "$(cpu "$2")" "$(rate "$3")" "$(p50 "$3")" "$(cpu "$3")"
}
echo
if [ "$RUNS" -gt 1 ]; then echo "medians of $RUNS rounds; CPU is the server's CPU time per write"; else echo "CPU is the server's CPU time per write"; fi
printf '| %-44s | %10s | %9s | %7s | %8s | %9s | %7s |\n' "" "64 (50) /s" "p50" "CPU" "1 cl. /s" "p50" "CPU"
printf '|%s|%s|%s|%s|%s|%s|%s|\n' "----------------------------------------------" "------------" "-----------" "---------" "----------" "-----------" "---------"
row "grapevine HTTP (wrk, 64 connections)" g64 g1
row "grapevine HTTP (grapevine bench, 64 clients)" o64 o1
row "grapevine RESP (redis-benchmark, 50 clients)" s50 s1
row "etcd, 1 member (Go client, 64 over 8 conns)" e64 e1
row "Redis, appendfsync always (50 clients)" r50 r1
row "raw fdatasync, 128 B append" - fsync

# ratio LABEL NAME FIELD NAME FIELD: NAME's FIELD ÷ the other's, round by
# round, and the median of those ratios.
ratio() {
	values "$2" "$3" >"$tmp/a"; values "$4" "$5" >"$tmp/b"
	paste -d' ' "$tmp/a" "$tmp/b" | awk '{ if ($1 != "-" && $2 != "-" && $2 + 0 > 0) printf "%.2f\n", $1 / $2; else print "-" }' >"$tmp/r"
	m=$(median <"$tmp/r")
	if [ "$m" = "-" ]; then echo "$1: -"; return; fi
	if [ "$RUNS" -gt 1 ]; then
		printf '%s: %.2f×  (rounds: %s)\n' "$1" "$m" "$(tr '\n' ' ' <"$tmp/r" | sed 's/ $//')"
	else
		printf '%s: %.2f×\n' "$1" "$m"
	fi
}
echo
ratio "grapevine HTTP (wrk, 64) ÷ etcd (64)  [goal ≥ 2.5]" g64 2 e64 2
ratio "grapevine RESP ÷ Redis (50 clients)   [goal ≥ 1.0]" s50 2 r50 2
ratio "grapevine HTTP 1-client p50 ÷ fdatasync p50 [goal ≤ 1.5]" g1 3 fsync 3
ratio "CPU per write: grapevine HTTP ÷ etcd (64)" g64 4 e64 4
ratio "CPU per write: grapevine RESP ÷ Redis (50)" s50 4 r50 4

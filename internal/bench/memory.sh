#!/bin/sh
# memory.sh BIN: the memory of one daemon holding KEYS keys (default
# 1,000,000) of 100-byte values, then under a steady load for DURATION
# (default 10m): `grapevine bench` fills the store with unique keys over
# HTTP, then overwrites them (CLIENTS clients, default 8), and prints the
# daemon's resident set and Go heap, read from its /metrics every second,
# before, at most and after each phase. The daemon's data goes to a
# temporary directory on the disk of $TMPDIR, removed at the end.
# DAEMON_FLAGS are added to the daemon's command line. MEMORY_LIMIT (e.g.
# 300M; needs root and a memory cgroup, v1 or v2) runs the daemon in a
# memory cgroup of that size, without swap: the kernel then keeps its
# resident set within the limit by dropping mapped table pages, and the
# run shows what that costs.
set -eu
BIN=${1:-bin/grapevine}
KEYS=${KEYS:-1000000}
DURATION=${DURATION:-10m}
CLIENTS=${CLIENTS:-8}
tmp=$(mktemp -d)
pid=
cg=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	[ -n "$cg" ] && rmdir "$cg"
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# limit: a memory cgroup below this shell's own, of MEMORY_LIMIT bytes.
limit() {
	[ "$(id -u)" = 0 ] || { echo "memory.sh: MEMORY_LIMIT needs root, to make a memory cgroup" >&2; exit 1; }
	v1=$(sed -n 's/^[0-9]*:memory:\(.*\)/\1/p' /proc/self/cgroup)
	if [ -n "$v1" ] && [ -d /sys/fs/cgroup/memory ]; then
		cg=/sys/fs/cgroup/memory${v1%/}/grapevine-bench-$$
		mkdir "$cg"
		echo "$MEMORY_LIMIT" >"$cg/memory.limit_in_bytes"
		[ ! -f "$cg/memory.memsw.limit_in_bytes" ] || echo "$MEMORY_LIMIT" >"$cg/memory.memsw.limit_in_bytes"
		peak=memory.max_usage_in_bytes
	else
		cg=/sys/fs/cgroup$(sed -n 's/^0:://p' /proc/self/cgroup)
		cg=${cg%/}/grapevine-bench-$$
		mkdir "$cg"
		echo "$MEMORY_LIMIT" >"$cg/memory.max" || { echo "memory.sh: no memory controller in $cg" >&2; exit 1; }
		echo 0 >"$cg/memory.swap.max" 2>/dev/null || true
		peak=memory.peak
	fi
	echo "== daemon in memory cgroup $cg, limit $MEMORY_LIMIT"
}
# contained: exec the command line, in the memory cgroup if there is one.
contained() {
	[ -z "$cg" ] || exec sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$cg" "$@"
	exec "$@"
}
if [ -n "${MEMORY_LIMIT:-}" ]; then
	limit
	# The daemon runs from a copy made in the cgroup, so the page cache of
	# its own binary counts against the limit too.
	(contained cp "$BIN" "$tmp/grapevine")
	DAEMON=$tmp/grapevine
fi

contained "${DAEMON:-$BIN}" daemon --data "$tmp/d" --api 127.0.0.1:0 --listen /ip4/127.0.0.1/tcp/0 \
	--mdns=false --network bench-memory --log-level info --log-format text ${DAEMON_FLAGS:-} >"$tmp/d.log" 2>&1 &
pid=$!
i=0
until grep -q "HTTP API listening" "$tmp/d.log"; do
	i=$((i + 1)); [ $i -le 200 ] || { cat "$tmp/d.log"; exit 1; }; sleep 0.1
done
echo "== fill: $KEYS unique keys, 100-byte values, 32 clients"
"$BIN" bench put --data "$tmp/d" --requests "$KEYS" --keys "$KEYS" --clients 32
echo "== steady load: overwrites of those keys for $DURATION, $CLIENTS clients"
"$BIN" bench put --data "$tmp/d" --duration "$DURATION" --keys "$KEYS" --clients "$CLIENTS"
"$BIN" status --data "$tmp/d" | head -20
if [ -n "$cg" ]; then
	echo "== memory cgroup: peak $(($(cat "$cg/$peak") >> 20)) MiB of $MEMORY_LIMIT, $(cat "$cg/memory.failcnt" 2>/dev/null || echo "?") times at the limit"
fi

#!/bin/sh
# memory.sh BIN: the memory of one daemon holding KEYS keys (default
# 1,000,000) of 100-byte values, then under a steady load for DURATION
# (default 10m): `grapevine bench` fills the store with unique keys over
# HTTP, then overwrites them (CLIENTS clients, default 8), and prints the
# daemon's resident set and Go heap, read from its /metrics every second,
# before, at most and after each phase. The daemon's data goes to a
# temporary directory on the disk of $TMPDIR, removed at the end.
# DAEMON_FLAGS are added to the daemon's command line.
set -eu
BIN=${1:-bin/grapevine}
KEYS=${KEYS:-1000000}
DURATION=${DURATION:-10m}
CLIENTS=${CLIENTS:-8}
tmp=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

"$BIN" daemon --data "$tmp/d" --api 127.0.0.1:0 --listen /ip4/127.0.0.1/tcp/0 \
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

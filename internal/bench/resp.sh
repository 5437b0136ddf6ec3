#!/bin/sh
# resp.sh BIN: redis-benchmark against a grapevine daemon's Redis protocol
# door (--resp, fsync on every commit as by default) and against a Redis
# with appendonly yes and appendfsync always, in the same run on the same
# machine, and the ratio grapevine/redis of each test's requests per second.
# Needs redis-server, redis-cli and redis-benchmark (make bench-resp
# installs them). N (requests, default 100000) and CLIENTS (default 50).
set -eu
BIN=${1:-bin/grapevine}
N=${N:-100000}
CLIENTS=${CLIENTS:-50}
tmp=$(mktemp -d)
gpid= rpid=
cleanup() {
	[ -n "$gpid" ] && kill "$gpid" 2>/dev/null && wait "$gpid" 2>/dev/null
	[ -n "$rpid" ] && kill "$rpid" 2>/dev/null && wait "$rpid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# wait_for WHAT CMD...: until CMD succeeds, at most 20 s.
wait_for() {
	what=$1; shift
	i=0
	until "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -gt 200 ]; then echo "bench-resp: $what did not start" >&2; return 1; fi
		sleep 0.1
	done
}

# grapevine, on a port the kernel picks (read from its log).
"$BIN" daemon --data "$tmp/grapevine" --api 127.0.0.1:0 --listen /ip4/127.0.0.1/tcp/0 \
	--mdns=false --network bench-resp --resp 127.0.0.1:0 --log-level info --log-format text \
	>"$tmp/grapevine.log" 2>&1 &
gpid=$!
wait_for "grapevine" grep -q 'Redis protocol (RESP) listening' "$tmp/grapevine.log" || { cat "$tmp/grapevine.log"; exit 1; }
gport=$(sed -n 's/.*Redis protocol (RESP) listening" addr=127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/grapevine.log" | head -1)

# Redis, durable like grapevine: every write fsynced before the reply.
mkdir "$tmp/redis"
for try in 1 2 3 4 5; do
	rport=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom) % 20000 ))
	redis-server --port "$rport" --bind 127.0.0.1 --dir "$tmp/redis" --appendonly yes \
		--appendfsync always --save '' --daemonize no >"$tmp/redis.log" 2>&1 &
	rpid=$!
	if wait_for "redis-server" redis-cli -p "$rport" ping; then break; fi
	kill "$rpid" 2>/dev/null; rpid=
done
[ -n "$rpid" ] || { cat "$tmp/redis.log"; exit 1; }

bench() {
	redis-benchmark -h 127.0.0.1 -p "$1" -t set,get -c "$CLIENTS" -d 100 -r 1000000 -n "$N" -q 2>/dev/null |
		tr '\r' '\n' | grep 'requests per second'
}
echo "== grapevine $("$BIN" version 2>/dev/null | head -1) --resp (fsync per commit), port $gport"
bench "$gport" | tee "$tmp/g.txt"
echo "== $(redis-server --version | cut -d' ' -f1-3) appendonly yes, appendfsync always, port $rport"
bench "$rport" | tee "$tmp/r.txt"
echo "== ratio grapevine/redis (requests per second)"
for t in SET GET; do
	g=$(grep "^$t:" "$tmp/g.txt" | awk '{print $2}')
	r=$(grep "^$t:" "$tmp/r.txt" | awk '{print $2}')
	awk -v t="$t" -v g="$g" -v r="$r" 'BEGIN { printf "%s: %.2f (%s / %s)\n", t, g / r, g, r }'
done

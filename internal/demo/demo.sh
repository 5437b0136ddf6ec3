#!/usr/bin/env bash
# Starts three local grapevine peers (the 2nd and 3rd bootstrap from the 1st),
# puts a key on one, reads it on the others, and stops them.
set -euo pipefail
bin=${1:-bin/grapevine}
root=$(mktemp -d "${TMPDIR:-/tmp}/grapevine-demo.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$root"
}
trap cleanup EXIT

# wait_until DESCRIPTION COMMAND...: retry COMMAND for up to 30 seconds.
wait_until() {
  local what=$1; shift
  for _ in $(seq 300); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "demo: timed out waiting for $what" >&2
  exit 1
}

start() { # start NAME [--bootstrap ADDR]
  local name=$1; shift
  mkdir -p "$root/$name"
  "$bin" daemon --data "$root/$name" --api 127.0.0.1:0 --mdns=false --network demo \
    --listen /ip4/127.0.0.1/tcp/0 --listen /ip4/127.0.0.1/udp/0/quic-v1 "$@" \
    >"$root/$name.log" 2>&1 &
  pids+=($!)
  wait_until "peer $name to serve its API" test -s "$root/$name/api"
  wait_until "peer $name to answer" "$bin" status --data "$root/$name"
  echo "started peer $name (data in $root/$name, API on $(cat "$root/$name/api"))"
}

start one
boot=$("$bin" id --data "$root/one" | grep '/ip4/127.0.0.1/tcp/' | head -n1)
echo "bootstrap address of peer one: $boot"
start two --bootstrap "$boot"
start three --bootstrap "$boot"

peers_of() { [ "$("$bin" peers --data "$root/$1" | wc -l)" -ge 2 ]; }
for p in one two three; do wait_until "peer $p to see both others" peers_of "$p"; done
echo "every peer sees the two others"

echo '$ grapevine put greeting "hello from peer one"   (on peer one)'
"$bin" put --data "$root/one" greeting "hello from peer one"
for p in two three; do
  wait_until "the key on peer $p" "$bin" get --data "$root/$p" greeting
  echo "\$ grapevine get greeting   (on peer $p)"
  "$bin" get --data "$root/$p" greeting; echo
done
echo '$ grapevine incr visits 3   (on peer two), then incr visits 4 (on peer three)'
"$bin" incr --data "$root/two" visits 3 >/dev/null
"$bin" incr --data "$root/three" visits 4 >/dev/null
counter_is_7() { [ "$("$bin" incr --data "$root/one" visits 0)" = 7 ]; }
wait_until "the counter to add up on peer one" counter_is_7
echo "peer one reads visits = 7"
echo "demo done: stopping the peers"

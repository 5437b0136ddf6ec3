#!/usr/bin/env bash
# Issue 15, proof 2 (make scale): PEERS real grapevine daemons, each in a
# Linux network namespace of its own, joined by veth pairs to a bridge that
# lives in one more namespace (the hub), on 10.231.0.0/24. Nothing is
# created in the caller's namespace and no namespace has a route beyond
# that subnet, so no traffic leaves them. Everything is removed at the end,
# on failure too; if the script itself is SIGKILLed (no trap runs), its
# daemons die with it (setpriv --pdeathsig) and the next run removes the
# namespaces it left.
#
# Peer 0 is the bootstrap; peer i replicates namespace tenant-(i mod 3),
# so each of the three namespaces has PEERS/3 holders and every peer is a
# non-holder of two. The run: wait for the holders of each namespace to
# meet; write and read every namespace through the HTTP API of holders and
# of non-holders (forwarded: the X-Grapevine-Served-By header must name a
# holder); kill KILL peers by PID (SIGKILL), write while they are down,
# restart them and wait until every namespace's holders list identical
# states. It prints convergence times, bytes and CPU per peer.
#
# Usage: netns.sh BIN. Needs root and iproute2 (ip); exits 0 with a
# message when either is missing.
set -euo pipefail

bin=$(realpath "${1:-bin/grapevine}")
PEERS=${PEERS:-30}
KILL=${KILL:-10}
WRITES=${WRITES:-20} # per namespace and phase
SUBNET=10.231.0
NSS=(tenant-a tenant-b tenant-c)

if [ "$(id -u)" != 0 ]; then
  echo "scale: skipped: creating network namespaces needs root (run make scale as root)"; exit 0
fi
if ! command -v ip >/dev/null 2>&1; then
  echo "scale: skipped: no ip command (iproute2); install it (as root: apt-get install iproute2)"; exit 0
fi
for tool in curl jq sha256sum; do
  command -v $tool >/dev/null 2>&1 || { echo "scale: needs $tool"; exit 1; }
done

tag=gvs$$ # namespace names: $tag-hub, $tag-0 ...
# Namespaces left by a run that was SIGKILLed (its daemons died with it,
# see reaper): gvsPID-* of a PID no longer running.
for ns in $(ip netns list 2>/dev/null | grep -oE '^gvs[0-9]+-[a-z0-9]+' || true); do
  pid=${ns#gvs}; pid=${pid%%-*}
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "scale: removing namespace $ns left by an earlier run (pid $pid)"
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
  fi
done
reaper=() # prefix of each daemon's command line
if command -v setpriv >/dev/null 2>&1; then
  reaper=(setpriv --pdeathsig KILL)
else
  echo "scale: no setpriv (util-linux): the daemons will outlive this script if it is SIGKILLed"
fi
root=$(mktemp -d "${TMPDIR:-/tmp}/grapevine-scale.XXXXXX")
declare -a pids cpu0
cleanup() {
  local rc=$?
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for ((i = 0; i < PEERS; i++)); do ip netns del "$tag-$i" 2>/dev/null || true; done
  ip netns del "$tag-hub" 2>/dev/null || true
  if [ $rc -ne 0 ]; then
    echo "scale: FAILED (exit $rc); warnings and errors in the peers' logs:"
    grep -hE 'level=(WARN|ERROR)' "$root"/p*.log 2>/dev/null | tail -n 20 || true
  fi
  rm -rf "$root"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc -l | xargs printf '%.1f'; }
fail() { echo "scale: $*" >&2; exit 1; }

# wait_until SECONDS DESCRIPTION COMMAND...: retry COMMAND every 0.2 s.
wait_until() {
  local limit=$1 what=$2; shift 2
  local end=$(($(date +%s) + limit))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$end" ] || fail "timed out after ${limit}s waiting for $what"
    sleep 0.2 # polling, not synchronising
  done
}

# --- the network ---------------------------------------------------------
ip netns add "$tag-hub"
ip -n "$tag-hub" link add br0 type bridge
ip -n "$tag-hub" link set br0 up
for ((i = 0; i < PEERS; i++)); do
  ns=$tag-$i
  ip netns add "$ns"
  ip -n "$tag-hub" link add "v$i" type veth peer name eth0 netns "$ns"
  ip -n "$tag-hub" link set "v$i" master br0 up
  ip -n "$ns" addr add "$SUBNET.$((i + 1))/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
done
echo "scale: $PEERS network namespaces on $SUBNET.0/24 behind one bridge (in namespace $tag-hub)"

# --- the peers -----------------------------------------------------------
nsof() { echo "tenant-${NSS[$(($1 % 3))]#tenant-}"; }
inns() { local i=$1; shift; ip netns exec "$tag-$i" "$@"; }
api() { # api I CURL-ARGS...: curl peer i's HTTP API
  local i=$1; shift
  inns "$i" curl -sS --max-time 60 "$@"
}
start() { # start I [--bootstrap ADDR]
  local i=$1; shift
  mkdir -p "$root/p$i"
  # ip netns exec and setpriv exec the daemon: $! is the daemon's PID.
  # --pdeathsig: the daemon dies with this script, even a SIGKILLed one
  # (whose EXIT trap cannot run).
  ip netns exec "$tag-$i" "${reaper[@]}" "$bin" daemon --data "$root/p$i" --api 127.0.0.1:7000 --mdns=false --network scale \
    --listen "/ip4/$SUBNET.$((i + 1))/tcp/4101" --namespaces "$(nsof "$i")" --sync=false "$@" \
    >>"$root/p$i.log" 2>&1 &
  pids[$i]=$!
}
up() { api "$1" -f http://127.0.0.1:7000/v1/status; }
peer_id() { api "$1" http://127.0.0.1:7000/v1/status | jq -r .id; }

t0=$(now)
start 0
wait_until 60 "peer 0's API" up 0
boot="/ip4/$SUBNET.1/tcp/4101/p2p/$(peer_id 0)"
for ((i = 1; i < PEERS; i++)); do start "$i" --bootstrap "$boot"; done
for ((i = 0; i < PEERS; i++)); do wait_until 120 "peer $i's API" up "$i"; done
declare -a ids
for ((i = 0; i < PEERS; i++)); do ids[$i]=$(peer_id "$i"); done
echo "scale: $PEERS daemons up in $(since "$t0") s (bootstrap: peer 0)"

# holders I: the peers holding namespace of peer i's group; others.
holders_of() { local k=$1; for ((i = k; i < PEERS; i += 3)); do echo "$i"; done; }
is_holder_id() { # is_holder_id NSINDEX ID
  local i; for i in $(holders_of "$1"); do [ "${ids[$i]}" = "$2" ] && return 0; done; return 1
}

# listing_hash I NS: the hash of peer i's listing of NS (keys, versions, values).
listing_hash() {
  api "$1" "http://127.0.0.1:7000/v1/kv?ns=$2&limit=1000" | jq -c '[.entries[] | [.key, .version, .value, .counter]]' | sha256sum | cut -c1-16
}
# converged K: every running holder of namespace K lists the same states,
# all wrote[K] keys.
converged() {
  local k=$1 want=${wrote[$1]} ns=${NSS[$1]} first= h n
  for i in $(holders_of "$k"); do
    [ -n "${pids[$i]}" ] || continue
    n=$(api "$i" "http://127.0.0.1:7000/v1/kv?ns=$ns&limit=1000" | jq '.entries | length') || return 1
    [ "$n" -ge "$want" ] || return 1
    h=$(listing_hash "$i" "$ns") || return 1
    if [ -z "$first" ]; then first=$h; elif [ "$h" != "$first" ]; then return 1; fi
  done
}
all_converged() { for k in 0 1 2; do converged "$k" || return 1; done; }

# write_phase NAME: up to WRITES puts per namespace, each through a running
# peer (w*7+k mod PEERS), a third of them holders; the answer of a
# non-holder must be served by a holder. wrote[k] counts the keys.
forwarded=0
wrote=(1 1 1) # the probes
write_phase() {
  local phase=$1 k w i hdr by
  for k in 0 1 2; do
    for ((w = 0; w < WRITES; w++)); do
      i=$(((w * 7 + k) % PEERS))
      [ -n "${pids[$i]}" ] || continue
      hdr=$(api "$i" -f -D - -o /dev/null -X PUT --data "v-$phase-$w" "http://127.0.0.1:7000/v1/kv/$phase-$w?ns=${NSS[$k]}") ||
        fail "put $phase-$w in ${NSS[$k]} on peer $i failed"
      wrote[$k]=$((wrote[k] + 1))
      by=$(echo "$hdr" | tr -d '\r' | awk -F': ' 'tolower($1) == "x-grapevine-served-by" {print $2}')
      if [ $((i % 3)) -ne "$k" ]; then
        is_holder_id "$k" "$by" || fail "put on peer $i (not a holder of ${NSS[$k]}) served by '$by', not a holder"
        forwarded=$((forwarded + 1))
      fi
    done
  done
}
# read_check NAME: every peer that holds none of a namespace reads a key of
# it, forwarded to a holder.
read_check() {
  local phase=$1 k i hdr by body
  for k in 0 1 2; do
    for ((i = (k + 1) % 3; i < PEERS; i += 3)); do
      [ -n "${pids[$i]}" ] || continue
      body=$(api "$i" -f -D "$root/hdr" "http://127.0.0.1:7000/v1/kv/$phase-0?ns=${NSS[$k]}") ||
        fail "forwarded get of $phase-0 in ${NSS[$k]} on peer $i failed"
      by=$(tr -d '\r' <"$root/hdr" | awk -F': ' 'tolower($1) == "x-grapevine-served-by" {print $2}')
      is_holder_id "$k" "$by" || fail "get on peer $i served by '$by', not a holder of ${NSS[$k]}"
      [[ "$body" == *"v-$phase-0"* ]] || fail "forwarded get of $phase-0 on peer $i answered $body"
      forwarded=$((forwarded + 1))
    done
  done
}

# Holders meet: a probe written on one holder reaches the others.
t1=$(now)
for k in 0 1 2; do api "$k" -f -X PUT --data probe "http://127.0.0.1:7000/v1/kv/probe?ns=${NSS[$k]}" >/dev/null; done
wait_until 180 "the holders of each namespace to converge on the probe" all_converged
echo "scale: the 3 namespaces' holders converged on a probe $(since "$t1") s after it was written"

t2=$(now)
write_phase before
read_check before
wait_until 180 "the holders to converge after $((3 * WRITES)) writes" all_converged
echo "scale: $((3 * WRITES)) writes (two thirds through non-holders) converged on all holders in $(since "$t2") s; forwarded requests so far: $forwarded, each served by a holder"

# Kill KILL peers by PID, write while they are down, restart them.
victims=()
for ((i = PEERS - KILL; i < PEERS; i++)); do victims+=("$i"); done
declare -A cpudead
stat_cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
for i in "${victims[@]}"; do
  cpudead[$i]=$(stat_cpu "${pids[$i]}")
  kill -9 "${pids[$i]}"
  wait "${pids[$i]}" 2>/dev/null || true
  pids[$i]=
  ! up "$i" 2>/dev/null || fail "peer $i still answers after kill -9"
done
echo "scale: killed peers ${victims[*]} (SIGKILL)"
write_phase down
read_check down
wait_until 180 "the surviving holders to converge" all_converged
t3=$(now)
for i in "${victims[@]}"; do start "$i" --bootstrap "$boot"; done
for i in "${victims[@]}"; do wait_until 120 "restarted peer $i's API" up "$i"; done
wait_until 300 "all holders, restarted ones too, to converge" all_converged
echo "scale: restarted ${#victims[@]} peers; all holders converged $(since "$t3") s after the restart"
read_check down # from every running non-holder, the restarted ones too

# --- summary -------------------------------------------------------------
clk=$(getconf CLK_TCK)
echo
echo "scale: per peer: namespace held, veth bytes rx/tx (whole run), anti-entropy bytes sent, gossip messages published+received and DHT lookups (since its last start), connected peers, resident memory, CPU seconds (both lives)"
printf '%-5s %-9s %12s %12s %12s %11s %8s %6s %8s %8s\n' peer holds rx_bytes tx_bytes sync_sent gossip_msgs lookups conns rss_kib cpu_s
metric() { # metric I NAME: sum of a counter over its labels
  api "$1" http://127.0.0.1:7000/metrics | awk -v m="$2" '$1 == m || index($1, m "{") == 1 {s += $2} END {printf "%d", s}'
}
tot_rx=0; tot_cpu=0
for ((i = 0; i < PEERS; i++)); do
  read -r rx tx < <(inns "$i" awk '$1 == "eth0:" {print $2, $10}' /proc/net/dev)
  sent=$(metric "$i" grapevine_sync_bytes_sent_total)
  msgs=$(( $(metric "$i" grapevine_gossip_messages_published_total) + $(metric "$i" grapevine_gossip_messages_received_total) ))
  lookups=$(metric "$i" grapevine_discovery_lookups_total)
  ticks=$(( $(stat_cpu "${pids[$i]}") + ${cpudead[$i]:-0} ))
  cpu=$(echo "$ticks / $clk" | bc -l)
  conns=$(api "$i" http://127.0.0.1:7000/v1/status | jq .peers)
  rss=$(awk '$1 == "VmRSS:" {print $2}' "/proc/${pids[$i]}/status")
  printf '%-5s %-9s %12d %12d %12d %11d %8d %6d %8d %8.2f\n' "$i" "$(nsof "$i")" "$rx" "$tx" "$sent" "$msgs" "$lookups" "$conns" "$rss" "$cpu"
  tot_rx=$((tot_rx + rx)); tot_cpu=$(echo "$tot_cpu + $cpu" | bc -l)
done
printf 'scale: mean per peer: %d bytes received, %.2f CPU seconds, over %s s of run\n' $((tot_rx / PEERS)) "$(echo "$tot_cpu / $PEERS" | bc -l)" "$(since "$t0")"
echo "scale: PASS ($forwarded forwarded reads and writes, each served by a holder)"

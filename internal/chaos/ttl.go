package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/grapevine-kv/grapevine/api/client"
	"github.com/grapevine-kv/grapevine/crdt"
)

// TTL registers: every put of a ttlKeyPrefix key has a TTL of ttlMin to
// ttlMax (whole milliseconds), and nothing deletes them.
const (
	ttlKeyPrefix = "ttl/"
	ttlKeys      = 3
	ttlMin       = time.Second
	ttlMax       = 4 * time.Second
)

// SkewWindow is a clock skew the nemesis applied to one peer: from just
// before it set it to just after it reset it (To 0: never reset, so until
// the end of the run).
type SkewWindow struct {
	Peer     int           `json:"peer"`
	Skew     time.Duration `json:"skew"`
	From, To time.Duration // since the start of the history
}

// ttlOp puts a TTL key with a short TTL, or reads one.
func (w *workload) ttlOp(ctx context.Context, proc, peer int, addr, value string, rng *rand.Rand) {
	key := fmt.Sprintf("%s%d", ttlKeyPrefix, rng.IntN(ttlKeys))
	if rng.IntN(2) == 0 {
		w.get(ctx, proc, peer, addr, key)
		return
	}
	ttl := ttlMin + time.Duration(rng.Int64N(int64(ttlMax-ttlMin)/1e6))*time.Millisecond
	w.condPut(ctx, proc, peer, addr, key, value, client.WriteOptions{}, ttl)
}

// expiry is the Unix millisecond at which a value written at version ver
// with ttl expires: the write stamp's wall part plus the TTL (as
// node.WriteOptions computes it).
func expiry(ver uint64, ttl time.Duration) int64 {
	return crdt.Timestamp(ver).Millis() + (ttl + time.Millisecond - 1).Milliseconds()
}

// behind returns how far behind real time peer's clock may have been at
// some instant of [from, to] (0 or negative): the most negative skew of
// the windows overlapping it. A forward skew only makes a peer expire
// values earlier, so it never excuses a late read.
func behind(skews []SkewWindow, peer int, from, to time.Duration) time.Duration {
	var b time.Duration
	for _, s := range skews {
		if s.Peer == peer && s.From <= to && (s.To == 0 || s.To >= from) {
			b = min(b, s.Skew)
		}
	}
	return b
}

// checkTTL: a peer judges expiry by its own clock, which is real time
// plus the skew the nemesis gave it (the daemons share the harness's
// clock). So, exactly:
//   - a read invoked at real time t on a peer whose clock was at most b
//     behind real time during the read (b from the nemesis's skews, 0 when
//     unskewed or skewed forward) never returns a value whose expiry E
//     (write stamp + TTL) satisfies t + b ≥ E;
//   - at the end (no skew left), no peer lists a TTL key whose expiry had
//     passed when its listing began; a TTL key read absent at the end
//     has its greatest acknowledged write expired by the end of that
//     listing (unless an info write, whose stamp is unknown, may have
//     replaced it); a value present is an acknowledged write at least as
//     new as every ok write of the key.
func checkTTL(in Input) Result {
	res := Result{Name: "ttl", Valid: true}
	bad := map[string][]string{}
	add := func(key, msg string) {
		if len(bad[key]) < 3 {
			bad[key] = append(bad[key], msg)
		}
	}
	puts := map[string]Op{} // key+value -> the put
	greatest := map[string]Op{}
	hasInfo := map[string]bool{}
	var okPuts, reads, readsValue, late, checkedSkewed int
	for _, op := range in.Ops {
		if op.F != FPut || !strings.HasPrefix(op.Key, ttlKeyPrefix) {
			continue
		}
		puts[op.Key+"\x00"+op.Value] = op
		switch op.Type {
		case TypeOK:
			okPuts++
			if g, ok := greatest[op.Key]; !ok || stampOf(in, op).cmp(stampOf(in, g)) > 0 {
				greatest[op.Key] = op
			}
		case TypeInfo:
			hasInfo[op.Key] = true
		}
	}
	for _, op := range in.Ops {
		if op.F != FGet || op.Type != TypeOK || !strings.HasPrefix(op.Key, ttlKeyPrefix) {
			continue
		}
		reads++
		if op.Absent {
			continue
		}
		readsValue++
		w, ok := puts[op.Key+"\x00"+op.Value]
		if !ok || w.Type == TypeFail {
			add(op.Key, fmt.Sprintf("p%d served %q, which no ok or info write wrote", op.Peer+1, op.Value))
			late++
			continue
		}
		e := expiry(op.Version, w.TTL)
		b := behind(in.Skews, op.Peer, op.Invoke, op.Complete)
		if b < 0 {
			checkedSkewed++
		}
		if t := wallMillis(in.Start, op.Invoke) + b.Milliseconds(); t >= e+1 {
			late++
			add(op.Key, fmt.Sprintf("p%d served %q (TTL %s) %dms after it expired (clock at most %s behind)", op.Peer+1, op.Value, w.TTL, t-e, -b))
		}
	}
	var finalLate, finalLost int
	for _, f := range in.live() {
		for key, r := range f.Registers {
			if !strings.HasPrefix(key, ttlKeyPrefix) {
				continue
			}
			g, hasOK := greatest[key]
			if r.Absent {
				if hasOK && !hasInfo[key] && f.Done > 0 && f.Done < expiry(g.Version, g.TTL) {
					finalLost++
					add(key, fmt.Sprintf("p%d reads it absent, but the acknowledged write %q expires only %dms after its listing ended", f.Peer+1, g.Value, expiry(g.Version, g.TTL)-f.Done))
				}
				continue
			}
			w, ok := puts[key+"\x00"+r.Value]
			switch {
			case !ok || w.Type == TypeFail:
				finalLost++
				add(key, fmt.Sprintf("p%d lists %q, which no ok or info write wrote", f.Peer+1, r.Value))
			case f.At > 0 && expiry(r.Version, w.TTL) <= f.At:
				finalLate++
				add(key, fmt.Sprintf("p%d lists %q %dms after it expired", f.Peer+1, r.Value, f.At-expiry(r.Version, w.TTL)))
			case hasOK && (stamp{r.Version, in.origin(w.Peer)}).cmp(stampOf(in, g)) < 0:
				finalLost++
				add(key, fmt.Sprintf("p%d lists %q %s, older than the acknowledged %q %s", f.Peer+1, r.Value, stamp{r.Version, in.origin(w.Peer)}, g.Value, stampOf(in, g)))
			}
		}
	}
	res.Valid = late+finalLate+finalLost == 0
	res.Summary = fmt.Sprintf("keys %d, ok puts with a TTL %d; reads %d (%d with a value, %d on a peer whose clock was behind), read after expiry %d; at the end: listed after expiry %d, lost or phantom %d",
		ttlKeys, okPuts, reads, readsValue, checkedSkewed, late, finalLate, finalLost)
	res.Offending = flatten(bad)
	return res
}

// stampOf is the (version, origin) of an acknowledged put.
func stampOf(in Input, op Op) stamp { return stamp{op.Version, in.origin(op.Peer)} }

package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/grapevine-kv/grapevine/api/apitype"
	"github.com/grapevine-kv/grapevine/api/client"
)

// Conditional writes: CAS registers (read the version, put with If-Match)
// and put-if-absent registers (a fresh set of keys every onceEpoch, so
// that workers race to create them). Neither is ever deleted or given a
// TTL, so on one peer a key's version only grows and a present key stays
// present: the rules of checkCAS rest on that.
const (
	casKeyPrefix  = "cas/"
	onceKeyPrefix = "once/"
	condAbsent    = "absent" // Op.Cond of a put-if-absent
	onceEpoch     = 5 * time.Second
	casKeys       = 2
	onceKeysEpoch = 3
)

// casOp reads a CAS key through peer, then writes it conditioned on the
// version read (absent: put-if-absent); or races a put-if-absent on a
// key of the current epoch.
func (w *workload) casOp(ctx context.Context, proc, peer int, addr, value string, rng *rand.Rand, elapsed time.Duration) {
	if rng.IntN(3) == 0 {
		key := fmt.Sprintf("%s%d/%d", onceKeyPrefix, elapsed/onceEpoch, rng.IntN(onceKeysEpoch))
		w.condPut(ctx, proc, peer, addr, key, value, client.WriteOptions{IfAbsent: true}, 0)
		return
	}
	key := fmt.Sprintf("%s%d", casKeyPrefix, rng.IntN(casKeys))
	op := w.hist.Invoke(Op{Process: proc, F: FGet, Peer: peer, Key: key})
	r, err := w.c.Get(opCtx(ctx), addr, key)
	if err != nil {
		op.Type, op.Error = TypeFail, err.Error()
		w.hist.Complete(op)
		return
	}
	op.Type, op.Value, op.Version, op.Absent = TypeOK, r.Value, r.Version, r.Absent
	w.hist.Complete(op)
	o := client.WriteOptions{IfVersion: r.Version, IfAbsent: r.Absent}
	w.condPut(ctx, proc, peer, addr, key, value, o, 0)
}

// condPut is a put with a condition or a TTL, recorded as FPut with Cond
// and TTL.
func (w *workload) condPut(ctx context.Context, proc, peer int, addr, key, value string, o client.WriteOptions, ttl time.Duration) {
	o.TTL = ttl
	op := Op{Process: proc, F: FPut, Peer: peer, Key: key, Value: value, TTL: ttl}
	switch {
	case o.IfAbsent:
		op.Cond = condAbsent
	case o.IfVersion != 0:
		op.Cond = strconv.FormatUint(o.IfVersion, 10)
	}
	op = w.hist.Invoke(op)
	v, err := w.c.PutWith(opCtx(ctx), addr, key, value, o)
	op.Type, op.Version = classify(err), v
	if err != nil {
		op.Error = err.Error()
		var ae *apitype.Error
		if errors.As(err, &ae) {
			op.Code = ae.Code
		}
	}
	w.hist.Complete(op)
}

// checkCAS: on one peer a condition is exact, across peers it is not.
//   - Two acknowledged conditional writes of a key through the same peer
//     never carry the same condition (the first changed the version, or
//     made the key present, and the key never goes back).
//   - An acknowledged conditional write through peer P is never
//     conditioned on a state P had already left: a version below one P
//     acknowledged or served for the key before the write was invoked, or
//     absence after P had acknowledged or served a value.
//   - Across peers both of two writes with the same condition may succeed
//     (counted, not a violation); every live peer's final value of a CAS
//     key is an acknowledged (ok or info) write; checkLWW judges which.
func checkCAS(in Input) Result {
	res := Result{Name: "cas", Valid: true}
	bad := map[string][]string{}
	type pk struct {
		peer      int
		key, cond string
	}
	first := map[pk]Op{}
	byCond := map[string]map[int]bool{} // key+cond -> peers that won it
	var ok, refused, dup, stale, crossPeer int
	// What each peer had shown of each key: the greatest version, by
	// completion time.
	type seen struct {
		at  time.Duration
		ver uint64
	}
	shown := map[pk][]seen{}
	for _, op := range in.Ops {
		if op.Type != TypeOK || !isCASKey(op.Key) || (op.F != FPut && op.F != FGet) || op.Absent {
			continue
		}
		k := pk{op.Peer, op.Key, ""}
		shown[k] = append(shown[k], seen{op.Complete, op.Version})
	}
	for _, op := range in.Ops {
		if op.F != FPut || op.Cond == "" || !isCASKey(op.Key) {
			continue
		}
		if op.Code == apitype.CodePrecondition {
			refused++
		}
		if op.Type != TypeOK {
			continue
		}
		ok++
		k := pk{op.Peer, op.Key, op.Cond}
		if f, twice := first[k]; twice {
			dup++
			bad[op.Key] = append(bad[op.Key], fmt.Sprintf("p%d accepted %q and %q, both conditioned on %s", op.Peer+1, f.Value, op.Value, op.Cond))
		} else {
			first[k] = op
		}
		if byCond[op.Key+" "+op.Cond] == nil {
			byCond[op.Key+" "+op.Cond] = map[int]bool{}
		}
		byCond[op.Key+" "+op.Cond][op.Peer] = true
		want, _ := strconv.ParseUint(op.Cond, 10, 64) // 0: absent
		for _, s := range shown[pk{op.Peer, op.Key, ""}] {
			if s.at < op.Invoke && s.ver > want && s.ver != op.Version {
				stale++
				bad[op.Key] = append(bad[op.Key], fmt.Sprintf("p%d accepted %q conditioned on %s after it had shown version %d", op.Peer+1, op.Value, op.Cond, s.ver))
				break
			}
		}
	}
	for _, peers := range byCond {
		if len(peers) > 1 {
			crossPeer++
		}
	}
	acked := map[string]bool{}
	for _, op := range in.Ops {
		if op.F == FPut && op.Type != TypeFail && isCASKey(op.Key) {
			acked[op.Key+"\x00"+op.Value] = true
		}
	}
	var phantom int
	for _, f := range in.live() {
		for key, r := range f.Registers {
			if isCASKey(key) && !r.Absent && !acked[key+"\x00"+r.Value] {
				phantom++
				bad[key] = append(bad[key], fmt.Sprintf("p%d reads %q, which no acknowledged write wrote", f.Peer+1, r.Value))
			}
		}
	}
	res.Valid = dup+stale+phantom == 0
	res.Summary = fmt.Sprintf("conditional writes %d ok, %d refused 412; same peer: %d both accepted on one condition, %d accepted on a state already left; across peers: %d conditions won on more than one peer (allowed); phantom %d",
		ok, refused, dup, stale, crossPeer, phantom)
	res.Offending = flatten(bad)
	return res
}

func isCASKey(key string) bool {
	return len(key) > len(casKeyPrefix) && key[:len(casKeyPrefix)] == casKeyPrefix ||
		len(key) > len(onceKeyPrefix) && key[:len(onceKeyPrefix)] == onceKeyPrefix
}

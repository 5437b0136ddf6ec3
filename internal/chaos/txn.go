package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/grapevine-kv/grapevine/api/apitype"
)

// Transactions: each writes one group's dedicated keys, put <group>a and
// <group>b with the same value (the txn's unique id) and incr <group>n by
// 1, through one peer, all or nothing. Nothing else writes them.
const (
	txnKeyPrefix = "t/"
	txnGroups    = 2
)

// txnGroup returns the prefix of group g's keys.
func txnGroup(g int) string { return fmt.Sprintf("%s%d/", txnKeyPrefix, g) }

// txnOp runs one transaction on a random group.
func (w *workload) txnOp(ctx context.Context, proc, peer int, addr, id string, rng *rand.Rand) {
	g := txnGroup(rng.IntN(txnGroups))
	op := w.hist.Invoke(Op{Process: proc, F: FTxn, Peer: peer, Key: g, Value: id})
	res, err := w.c.Txn(opCtx(ctx), addr, []apitype.TxnOp{
		{Op: "put", Key: g + "a", Value: []byte(id)},
		{Op: "put", Key: g + "b", Value: []byte(id)},
		{Op: "incr", Key: g + "n", By: 1},
	})
	op.Type = classify(err)
	if err != nil {
		op.Error = err.Error()
		var ae *apitype.Error
		if errors.As(err, &ae) {
			op.Code = ae.Code
		}
	} else if len(res) == 3 {
		op.Versions = []uint64{res[0].Version, res[1].Version}
	} else {
		op.Type, op.Error = TypeInfo, fmt.Sprintf("chaos: the txn answered %d results for 3 ops", len(res))
	}
	w.hist.Complete(op)
}

// checkTxn: after convergence, for every group on every live peer:
//   - the final a and b each hold the id of an ok or info txn;
//   - for every ok txn T and each key it wrote, the key holds T's id, or
//     the id of a txn whose write of that key has a greater stamp (an
//     info txn's stamps are unknown, so it may): T's writes are visible
//     together or superseded by later writes. a and b hold different ids
//     only when each was superseded so (two concurrent txns on different
//     peers: stamps within a txn grow op by op, so they may interleave);
//     such groups are counted;
//   - the counter n is the number of ok txns plus at most the number of
//     info txns, on every peer alike.
func checkTxn(in Input) Result {
	res := Result{Name: "txn", Valid: true}
	bad := map[string][]string{}
	add := func(key, msg string) {
		if len(bad[key]) < 3 {
			bad[key] = append(bad[key], msg)
		}
	}
	txns := map[string]Op{} // group+id -> txn
	var ok, info, partial, split, lost, wrongCount int
	count := map[string][2]int{} // group -> ok, info
	for _, op := range in.Ops {
		if op.F != FTxn || op.Type == TypeFail {
			continue
		}
		txns[op.Key+"\x00"+op.Value] = op
		c := count[op.Key]
		if op.Type == TypeOK {
			ok++
			c[0]++
		} else {
			info++
			c[1]++
		}
		count[op.Key] = c
	}
	for g := range txnGroups {
		group := txnGroup(g)
		for _, f := range in.live() {
			final := [2]Op{}
			known := [2]bool{}
			for i, k := range []string{"a", "b"} {
				r := f.Registers[group+k]
				if r.Absent {
					continue
				}
				t, found := txns[group+"\x00"+r.Value]
				if !found {
					partial++
					add(group, fmt.Sprintf("p%d: %s%s holds %q, which no ok or info txn wrote", f.Peer+1, group, k, r.Value))
					continue
				}
				final[i], known[i] = t, true
			}
			if known[0] && known[1] && final[0].Value != final[1].Value {
				split++
			}
			for _, t := range txns {
				if t.Key != group || t.Type != TypeOK || len(t.Versions) != 2 {
					continue
				}
				for i, k := range []string{"a", "b"} {
					if known[i] && final[i].Value == t.Value {
						continue
					}
					var superseded bool
					switch {
					case !known[i]:
					case final[i].Type == TypeInfo:
						superseded = true
					default:
						superseded = (stamp{final[i].Versions[i], in.origin(final[i].Peer)}).cmp(stamp{t.Versions[i], in.origin(t.Peer)}) > 0
					}
					if !superseded {
						lost++
						what := "absent"
						if known[i] {
							what = fmt.Sprintf("%q, written at a smaller stamp", final[i].Value)
						}
						add(group, fmt.Sprintf("p%d: ok txn %q (through p%d) is not visible in %s%s, which holds %s", f.Peer+1, t.Value, t.Peer+1, group, k, what))
					}
				}
			}
			n := f.Counters[group+"n"]
			if c := count[group]; n < int64(c[0]) || n > int64(c[0]+c[1]) {
				wrongCount++
				add(group, fmt.Sprintf("p%d: counter %sn reads %d; %d ok and %d info txns", f.Peer+1, group, n, c[0], c[1]))
			}
		}
	}
	res.Valid = partial+lost+wrongCount == 0
	res.Summary = fmt.Sprintf("groups %d, txns %d ok / %d info; not visible and not superseded %d, phantom %d, counter outside [ok, ok+info] %d; a and b from different (concurrent) txns %d",
		txnGroups, ok, info, lost, partial, wrongCount, split)
	res.Offending = flatten(bad)
	return res
}

package storage

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/internal/rangetree"
)

type modelKey struct {
	ns  string
	typ crdt.Type
	key string
}

// testSummarizeProperty applies random batches (and purges) to a store and
// to a map-based model, and after every step checks the stored states
// against the model, Summarize on random ranges against a brute-force sum
// over Items, and the index invariants.
func testSummarizeProperty(t *testing.T, open opener) {
	const base = 10_000_000_000 // ms
	namespaces := []string{"a", "b"}
	var keys []string
	for i := 0; i < 12; i++ {
		keys = append(keys, fmt.Sprintf("k%d", i))
	}
	origins := []crdt.ReplicaID{"o1", "o2", "o3"}
	ts := func(t *rapid.T) crdt.Timestamp {
		return crdt.NewTimestamp(base+int64(rapid.IntRange(0, 60).Draw(t, "sec"))*1000, uint16(rapid.IntRange(0, 2).Draw(t, "logical")))
	}
	opGen := rapid.Custom(func(t *rapid.T) Op {
		ns := rapid.SampledFrom(namespaces).Draw(t, "ns")
		key := rapid.SampledFrom(keys).Draw(t, "key")
		origin := rapid.SampledFrom(origins).Draw(t, "origin")
		switch rapid.IntRange(0, 3).Draw(t, "kind") {
		case 0:
			return put(ns, key, crdt.Register{Time: ts(t), Origin: origin, Value: []byte(rapid.StringN(0, 3, 3).Draw(t, "value"))})
		case 1:
			return put(ns, key, crdt.Register{Time: ts(t), Origin: origin, Deleted: true})
		case 2:
			return incr(ns, key, string(origin), int64(rapid.IntRange(-5, 5).Draw(t, "by")))
		}
		slots := map[crdt.ReplicaID]crdt.Slot{}
		for _, o := range rapid.SliceOfNDistinct(rapid.SampledFrom(origins), 1, 2, rapid.ID).Draw(t, "slots") {
			slots[o] = crdt.Slot{P: uint64(rapid.IntRange(0, 9).Draw(t, "p")), N: uint64(rapid.IntRange(0, 9).Draw(t, "n"))}
		}
		return put(ns, key, crdt.NewCounter(slots))
	})

	// One store for all checks (opening one per check is slow on disk),
	// emptied before each.
	var now time.Time
	opts := testOptions(t)
	opts.TombstoneGrace = 30 * time.Second
	opts.Now = func() time.Time { return now }
	db, _ := open(t, opts)
	rapid.Check(t, func(rt *rapid.T) {
		now = time.UnixMilli(base + 60_000)
		resetForTest(rt, db)
		model := map[modelKey]crdt.State{}

		check := func(rt *rapid.T) {
			for k, want := range model {
				got, err := db.Get(k.ns, k.typ, []byte(k.key))
				if err != nil || !equalState(got, want) {
					rt.Fatalf("Get(%v) = %v, %v; model has %v", k, got, err, want)
				}
			}
			var live []string
			for _, ns := range namespaces {
				var want Summary
				for _, typ := range []crdt.Type{crdt.TypeRegister, crdt.TypeCounter} {
					for _, key := range keys {
						s, ok := model[modelKey{ns, typ, key}]
						if !ok {
							if _, err := db.Get(ns, typ, []byte(key)); !errors.Is(err, ErrNotFound) {
								rt.Fatalf("Get(%s %s %s) = %v, model has nothing", ns, typ, key, err)
							}
							continue
						}
						want.Count++
						want.Hash += ItemHash(typ, []byte(key), crdt.Encode(s))
					}
				}
				if want.Count > 0 {
					live = append(live, ns)
				}
				if got := db.Summarize(ns, 0, math.MaxUint64); got != want {
					rt.Fatalf("Summarize(%s, all) = %+v, model says %+v", ns, got, want)
				}
				var hashes []uint64
				_ = db.Items(ns, 0, math.MaxUint64, func(it Item) error { hashes = append(hashes, it.Hash); return nil })
				for i := 0; i < 4; i++ {
					lo, hi := drawRange(rt, hashes)
					if got, want := db.Summarize(ns, lo, hi), bruteSummary(rt, db, ns, lo, hi); got != want {
						rt.Fatalf("Summarize(%s, %#x, %#x) = %+v, brute force %+v", ns, lo, hi, got, want)
					}
				}
			}
			if got := db.Namespaces(); !slices.Equal(got, live) {
				rt.Fatalf("Namespaces = %v, model %v", got, live)
			}
			checkInvariants(rt, db)
		}

		rt.Repeat(map[string]func(*rapid.T){
			"apply": func(rt *rapid.T) {
				ops := rapid.SliceOfN(opGen, 1, 20).Draw(rt, "ops")
				res, err := db.Apply(ops)
				if err != nil {
					rt.Fatalf("Apply: %v", err)
				}
				for i, op := range ops {
					typ := crdt.TypeCounter
					if op.State != nil {
						typ = op.State.Type()
					}
					k := modelKey{op.Namespace, typ, string(op.Key)}
					delta := op.State
					if op.Incr != nil {
						c, _ := model[k].(crdt.Counter)
						delta, err = c.Increment(op.Incr.Origin, op.Incr.By)
						if err != nil {
							rt.Fatalf("model increment: %v", err)
						}
					}
					merged, changed, err := crdt.Merge(model[k], delta)
					if err != nil {
						rt.Fatalf("model merge: %v", err)
					}
					if c, ok := delta.(crdt.Counter); ok && c.Len() == 0 {
						changed = false
					}
					if changed {
						model[k] = merged
					}
					if res[i].Err != nil || res[i].Changed != changed || !equalState(res[i].State, model[k]) {
						rt.Fatalf("op %d %+v: result %+v, model changed=%v state=%v", i, op, res[i], changed, model[k])
					}
				}
				check(rt)
			},
			"purge": func(rt *rapid.T) {
				now = now.Add(time.Duration(rapid.IntRange(0, 20).Draw(rt, "advance")) * time.Second)
				horizon := crdt.NewTimestamp(now.Add(-opts.TombstoneGrace).UnixMilli(), 0)
				want := 0
				for k, s := range model {
					if r, ok := s.(crdt.Register); ok && r.Deleted && r.Time < horizon {
						delete(model, k)
						want++
					}
				}
				n, err := db.PurgeTombstones()
				if err != nil || n != want {
					rt.Fatalf("PurgeTombstones = %d, %v; model purges %d", n, err, want)
				}
				check(rt)
			},
		})
	})
}

// resetForTest empties db.
func resetForTest(t tester, db *DB) {
	if err := db.bdb.DropAll(); err != nil {
		t.Fatalf("DropAll: %v", err)
	}
	if err := db.init(); err != nil {
		t.Fatalf("init after DropAll: %v", err)
	}
	db.clock.Store(0)
	db.clockSaved = 0
}

// drawRange draws a hash range: arbitrary, leaf-aligned, or with bounds on
// or next to stored item hashes.
func drawRange(t *rapid.T, hashes []uint64) (lo, hi uint64) {
	pick := func(label string) uint64 {
		switch rapid.IntRange(0, 3).Draw(t, label+"-kind") {
		case 0:
			return rapid.Uint64().Draw(t, label)
		case 1:
			leaf := leafRange(rapid.Uint64Range(0, rangetree.Leaves-1).Draw(t, label+"-leaf"))
			if label == "hi" {
				return leaf.Hi
			}
			return leaf.Lo
		}
		if len(hashes) == 0 {
			return rapid.Uint64().Draw(t, label)
		}
		h := rapid.SampledFrom(hashes).Draw(t, label+"-item")
		switch rapid.IntRange(-1, 1).Draw(t, label+"-nudge") {
		case -1:
			if h > 0 {
				h--
			}
		case 1:
			if h < math.MaxUint64 {
				h++
			}
		}
		return h
	}
	lo, hi = pick("lo"), pick("hi")
	if lo > hi {
		lo, hi = hi, lo
	}
	return lo, hi
}

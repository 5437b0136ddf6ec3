package crdt_test

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/grapevine-kv/grapevine/crdt"
)

// Generators draw from small alphabets so that equal stamps, origins and
// values, the cases the tie-breaks exist for, come up often.

var replicaIDs = []crdt.ReplicaID{"", "a", "b", "ab", "ba"}

func genReplicaID() *rapid.Generator[crdt.ReplicaID] { return rapid.SampledFrom(replicaIDs) }

func genTimestamp() *rapid.Generator[crdt.Timestamp] {
	return rapid.OneOf(
		rapid.Custom(func(t *rapid.T) crdt.Timestamp {
			return ts(rapid.Int64Range(0, 3).Draw(t, "ms"), rapid.Uint16Range(0, 2).Draw(t, "logical"))
		}),
		rapid.SampledFrom([]crdt.Timestamp{0, ts(0, 0xFFFF), ts(crdt.MaxMillis, 0), crdt.MaxTimestamp}),
		rapid.Map(rapid.Uint64(), func(u uint64) crdt.Timestamp { return crdt.Timestamp(u) }),
	)
}

func genValue() *rapid.Generator[[]byte] {
	return rapid.OneOf(
		rapid.Just[[]byte](nil),
		rapid.SliceOfN(rapid.ByteRange('x', 'z'), 0, 3),
		rapid.SliceOfN(rapid.Byte(), 0, 8),
	)
}

func genRegister() *rapid.Generator[crdt.Register] {
	return rapid.Custom(func(t *rapid.T) crdt.Register {
		r := crdt.Register{
			Time:    genTimestamp().Draw(t, "time"),
			Origin:  genReplicaID().Draw(t, "origin"),
			Deleted: rapid.Bool().Draw(t, "deleted"),
		}
		// A tombstone normally has no value; a stale one must not matter.
		if !r.Deleted || rapid.Bool().Draw(t, "stale value") {
			r.Value = genValue().Draw(t, "value")
		}
		r.Expires = genExpires().Draw(t, "expires")
		r.Sig = genSig().Draw(t, "sig")
		return r
	})
}

// genSig draws no signature (as often as not, so that unsigned, signed and
// mixed states all come up) or one of a few opaque ones: merge treats a
// signature as bytes and never checks it.
func genSig() *rapid.Generator[[]byte] {
	return rapid.OneOf(
		rapid.Just[[]byte](nil),
		rapid.SampledFrom([][]byte{nil, []byte("s"), []byte("t"), []byte("st")}),
	)
}

func genSlot() *rapid.Generator[crdt.Slot] {
	n := rapid.OneOf(rapid.Uint64Range(0, 3), rapid.Uint64())
	return rapid.Custom(func(t *rapid.T) crdt.Slot {
		return crdt.Slot{P: n.Draw(t, "P"), N: n.Draw(t, "N"), Sig: string(genSig().Draw(t, "sig"))}
	})
}

func genCounter() *rapid.Generator[crdt.Counter] {
	return rapid.Map(rapid.MapOfN(genReplicaID(), genSlot(), 0, len(replicaIDs)), crdt.NewCounter)
}

func genState() *rapid.Generator[crdt.State] {
	return rapid.OneOf(
		rapid.Map(genRegister(), func(r crdt.Register) crdt.State { return r }),
		rapid.Map(genCounter(), func(c crdt.Counter) crdt.State { return c }),
	)
}

// mergeState is crdt.Merge checked for its own contract: no error between
// states of one type, and changed exactly when the encoding changed.
func mergeState(t *rapid.T, stored, delta crdt.State) crdt.State {
	m, changed, err := crdt.Merge(stored, delta)
	if err != nil {
		t.Fatalf("crdt.Merge(%#v, %#v): %v", stored, delta, err)
	}
	var was []byte
	if stored != nil {
		was = crdt.Encode(stored)
	}
	if now := crdt.Encode(m); changed == bytes.Equal(now, was) {
		t.Fatalf("crdt.Merge reports changed=%t, but %x -> %x", changed, was, now)
	}
	return m
}

// checkLaws checks that merge is commutative, associative and idempotent,
// comparing results by their encodings.
func checkLaws[S crdt.State](t *rapid.T, kind string, a, b, c S, merge func(x, y S) S) {
	eq := func(x, y S) bool { return bytes.Equal(crdt.Encode(x), crdt.Encode(y)) }
	if ab, ba := merge(a, b), merge(b, a); !eq(ab, ba) {
		t.Fatalf("%s not commutative: a⊔b = %x, b⊔a = %x", kind, crdt.Encode(ab), crdt.Encode(ba))
	}
	if l, r := merge(merge(a, b), c), merge(a, merge(b, c)); !eq(l, r) {
		t.Fatalf("%s not associative: (a⊔b)⊔c = %x, a⊔(b⊔c) = %x", kind, crdt.Encode(l), crdt.Encode(r))
	}
	if aa := merge(a, a); !eq(aa, a) {
		t.Fatalf("%s not idempotent: a⊔a = %x, a = %x", kind, crdt.Encode(aa), crdt.Encode(a))
	}
	if ab := merge(a, b); !eq(merge(ab, b), ab) || !eq(merge(ab, a), ab) {
		t.Fatalf("%s: merging an operand again changed the result", kind)
	}
}

func TestRegisterMergeLaws(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a, b, c := genRegister().Draw(t, "a"), genRegister().Draw(t, "b"), genRegister().Draw(t, "c")
		checkLaws(t, "Register.Merge", a, b, c, func(x, y crdt.Register) crdt.Register {
			m := x.Merge(y)
			if m.Compare(x) < 0 || m.Compare(y) < 0 {
				t.Fatalf("Merge(%+v, %+v) = %+v is not an upper bound", x, y, m)
			}
			return m
		})
		checkLaws(t, "crdt.Merge(Register)", crdt.State(a), crdt.State(b), crdt.State(c), func(x, y crdt.State) crdt.State {
			return mergeState(t, x, y)
		})
	})
}

func TestCounterMergeLaws(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a, b, c := genCounter().Draw(t, "a"), genCounter().Draw(t, "b"), genCounter().Draw(t, "c")
		checkLaws(t, "Counter.Merge", a, b, c, func(x, y crdt.Counter) crdt.Counter {
			m := x.Merge(y)
			if !m.Dominates(x) || !m.Dominates(y) {
				t.Fatalf("Merge is not an upper bound")
			}
			return m
		})
		checkLaws(t, "crdt.Merge(Counter)", crdt.State(a), crdt.State(b), crdt.State(c), func(x, y crdt.State) crdt.State {
			return mergeState(t, x, y)
		})
	})
}

func TestMergeNilIsIdentity(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := genState().Draw(t, "s")
		if m := mergeState(t, nil, s); !sameEncoding(m, s) {
			t.Fatalf("Merge(nil, s) = %#v", m)
		}
		if m := mergeState(t, s, nil); !sameEncoding(m, s) {
			t.Fatalf("Merge(s, nil) = %#v", m)
		}
	})
}

func TestRegisterCompareTotalOrder(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a, b, c := genRegister().Draw(t, "a"), genRegister().Draw(t, "b"), genRegister().Draw(t, "c")
		for _, p := range [][2]crdt.Register{{a, b}, {b, c}, {a, c}} {
			x, y := p[0], p[1]
			xy, yx := x.Compare(y), y.Compare(x)
			if xy < -1 || xy > 1 {
				t.Fatalf("Compare returned %d", xy)
			}
			if xy != -yx {
				t.Fatalf("not antisymmetric: x.Compare(y) = %d, y.Compare(x) = %d", xy, yx)
			}
			if (xy == 0) != sameEncoding(x, y) {
				t.Fatalf("Compare = %d but encodings equal = %t: %+v vs %+v", xy, sameEncoding(x, y), x, y)
			}
		}
		if a.Compare(a) != 0 {
			t.Fatalf("a.Compare(a) = %d", a.Compare(a))
		}
		// Transitivity, over every order of the three.
		for _, p := range [][3]crdt.Register{{a, b, c}, {a, c, b}, {b, a, c}, {b, c, a}, {c, a, b}, {c, b, a}} {
			x, y, z := p[0], p[1], p[2]
			if x.Compare(y) <= 0 && y.Compare(z) <= 0 && x.Compare(z) > 0 {
				t.Fatalf("not transitive: x <= y <= z but x > z")
			}
			if x.Compare(y) < 0 && y.Compare(z) <= 0 && x.Compare(z) >= 0 {
				t.Fatalf("not transitive: x < y <= z but x >= z")
			}
		}
	})
}

func TestRegisterSortConsistent(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		rs := rapid.SliceOfN(genRegister(), 0, 12).Draw(t, "registers")
		slices.SortFunc(rs, crdt.Register.Compare)
		for i := range rs {
			for j := i + 1; j < len(rs); j++ {
				if rs[i].Compare(rs[j]) > 0 {
					t.Fatalf("after sorting, rs[%d] > rs[%d]", i, j)
				}
			}
		}
	})
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := genState().Draw(t, "s")
		enc := crdt.Encode(s)
		d, err := crdt.Decode(enc)
		if err != nil {
			t.Fatalf("Decode(Encode(%#v)) = %v", s, err)
		}
		if !equalState(d, s) {
			t.Fatalf("Decode(Encode(s)) = %#v, want %#v", d, s)
		}
		if re := crdt.Encode(d); !bytes.Equal(re, enc) {
			t.Fatalf("re-encoded %x, first encoding %x", re, enc)
		}
	})
}

// replicaState is what one replica holds: one register key and one counter
// key, each built only by merging deltas.
type replicaState struct {
	reg, cnt crdt.State
}

func (r *replicaState) apply(t *rapid.T, d crdt.State) {
	switch d.(type) {
	case crdt.Register:
		r.reg = mergeState(t, r.reg, d)
	case crdt.Counter:
		r.cnt = mergeState(t, r.cnt, d)
	default:
		t.Fatalf("unexpected delta %#v", d)
	}
}

func (r *replicaState) encode() []byte {
	var b []byte
	for _, s := range []crdt.State{r.reg, r.cnt} {
		if s == nil {
			b = append(b, 0) // no state: distinct from any encoding
			continue
		}
		b = crdt.AppendEncode(b, s)
	}
	return b
}

func (r *replicaState) value() int64 {
	if r.cnt == nil {
		return 0
	}
	return r.cnt.(crdt.Counter).Value()
}

// TestConvergence: writers on a few origins put registers and increment a
// counter; 3–5 replicas then receive every delta, each in its own shuffled
// order with random duplicates. All must end byte-identical, and the counter
// must equal the exact sum of the increments.
func TestConvergence(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		writers := rapid.SliceOfNDistinct(genReplicaID(), 1, 4, rapid.ID).Draw(t, "writers")
		wall := newFakeWall(rapid.Int64Range(0, 10).Draw(t, "start wall"))
		clocks := map[crdt.ReplicaID]*crdt.Clock{}
		local := map[crdt.ReplicaID]crdt.Counter{}
		for _, w := range writers {
			clocks[w] = crdt.NewClock(wall.now, time.Minute)
		}

		var deltas []crdt.State
		var sum int64
		for range rapid.IntRange(1, 40).Draw(t, "ops") {
			w := rapid.SampledFrom(writers).Draw(t, "writer")
			switch rapid.IntRange(0, 4).Draw(t, "op") {
			case 0: // a put or delete, stamped by the writer's clock
				r := crdt.Register{Time: clocks[w].Now(), Origin: w, Deleted: rapid.Bool().Draw(t, "delete")}
				if !r.Deleted {
					r.Value = genValue().Draw(t, "value")
				}
				deltas = append(deltas, r)
				// Other writers observe it, as gossip would make them.
				for _, o := range writers {
					if rapid.Bool().Draw(t, "observe") {
						if err := clocks[o].Observe(r.Time); err != nil {
							t.Fatalf("Observe: %v", err)
						}
					}
				}
			case 1: // a register from anywhere, to collide with the others
				deltas = append(deltas, genRegister().Draw(t, "register"))
			case 2: // the wall clock moves, maybe backwards
				wall.set(max(0, wall.millis()+rapid.Int64Range(-3, 3).Draw(t, "wall step")))
			case 3: // a writer learns another writer's counter
				o := rapid.SampledFrom(writers).Draw(t, "from")
				local[w] = local[w].Merge(local[o])
			default: // an increment
				by := rapid.OneOf(rapid.Int64Range(-3, 3), rapid.Int64Range(-1e12, 1e12)).Draw(t, "by")
				d, err := local[w].Increment(w, by)
				if err != nil {
					t.Fatalf("Increment(%q, %d): %v", w, by, err)
				}
				local[w] = local[w].Merge(d)
				sum += by
				deltas = append(deltas, d)
			}
		}

		// The reference: every delta once, in the order made.
		var ref replicaState
		for _, d := range deltas {
			ref.apply(t, d)
		}
		if got := ref.value(); got != sum {
			t.Fatalf("in-order counter value %d, want the sum of increments %d", got, sum)
		}

		all := make([]int, len(deltas))
		for i := range all {
			all[i] = i
		}
		for r := range rapid.IntRange(3, 5).Draw(t, "replicas") {
			dups := rapid.SliceOfN(rapid.IntRange(0, max(0, len(deltas)-1)), 0, len(deltas)).Draw(t, "duplicates")
			if len(deltas) == 0 {
				dups = nil
			}
			order := rapid.Permutation(append(slices.Clone(all), dups...)).Draw(t, "order")
			var rs replicaState
			for _, i := range order {
				rs.apply(t, deltas[i])
			}
			if got, want := rs.encode(), ref.encode(); !bytes.Equal(got, want) {
				t.Fatalf("replica %d diverged:\n got %x\nwant %x", r, got, want)
			}
			if got := rs.value(); got != sum {
				t.Fatalf("replica %d counter = %d, want the sum of increments %d", r, got, sum)
			}
		}
	})
}

// TestClockProperties runs random clock scripts through the exact model in
// clockHarness (the same checks as FuzzClockObserve).
func TestClockProperties(t *testing.T) {
	drifts := []time.Duration{0, -1, 500 * time.Microsecond, time.Millisecond, time.Second, time.Minute}
	rapid.Check(t, func(t *rapid.T) {
		h := newClockHarness(rapid.Int64Range(-5, 100_000).Draw(t, "start wall"), rapid.SampledFrom(drifts).Draw(t, "max drift"))
		near := rapid.Int64Range(-70_000, 70_000)
		for range rapid.IntRange(0, 60).Draw(t, "steps") {
			s := clockStep{op: clockOp(rapid.IntRange(0, int(numClockOps)-1).Draw(t, "op"))}
			switch s.op {
			case opWall:
				s.arg = uint64(rapid.OneOf(rapid.Int64Range(-5, 200_000), rapid.Int64()).Draw(t, "wall"))
			case opWallStep:
				s.arg = uint64(uint16(rapid.Int16Range(-1000, 1000).Draw(t, "wall step")))
			case opObserve, opRestore:
				s.arg = uint64(rapid.OneOf(genTimestamp(), rapid.Custom(func(t *rapid.T) crdt.Timestamp {
					return ts(h.wall.millis()+near.Draw(t, "offset"), rapid.Uint16().Draw(t, "logical"))
				})).Draw(t, "stamp"))
			case opObserveNear:
				s.arg = uint64(uint32(int32(near.Draw(t, "offset"))))<<16 | uint64(rapid.Uint16().Draw(t, "logical"))
			}
			h.step(t, s)
		}
	})
}

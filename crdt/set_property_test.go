package crdt_test

import (
	"bytes"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/grapevine-kv/grapevine/crdt"
)

// Set and counter-reset properties: the merge laws on states built by
// random operations, and convergence of replicas that receive every delta
// shuffled and duplicated, with the value (members, counter) exact.

var members = [][]byte{[]byte("x"), []byte("y"), []byte("z")}

// setReplicas runs random adds, removes and merges on a few replicas and
// returns their final states and every delta made.
func setReplicas(t *rapid.T) (states []crdt.Set, deltas []crdt.Set) {
	writers := rapid.SliceOfNDistinct(genReplicaID(), 1, 4, rapid.ID).Draw(t, "writers")
	local := make([]crdt.Set, len(writers))
	for range rapid.IntRange(0, 30).Draw(t, "ops") {
		w := rapid.IntRange(0, len(writers)-1).Draw(t, "writer")
		m := rapid.SampledFrom(members).Draw(t, "member")
		var d crdt.Set
		var err error
		switch rapid.IntRange(0, 2).Draw(t, "op") {
		case 0:
			d, err = local[w].Add(writers[w], m)
		case 1:
			d, err = local[w].Remove(m)
		default: // w learns another replica's state, as anti-entropy would
			d = local[rapid.IntRange(0, len(writers)-1).Draw(t, "from")]
		}
		if err != nil {
			t.Fatalf("op: %v", err)
		}
		local[w] = local[w].Merge(d)
		deltas = append(deltas, d)
	}
	return local, deltas
}

func genSet() *rapid.Generator[crdt.Set] {
	return rapid.Custom(func(t *rapid.T) crdt.Set {
		states, _ := setReplicas(t)
		return rapid.SampledFrom(states).Draw(t, "state")
	})
}

func TestSetMergeLaws(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a, b, c := genSet().Draw(t, "a"), genSet().Draw(t, "b"), genSet().Draw(t, "c")
		checkLaws(t, "Set.Merge", a, b, c, crdt.Set.Merge)
		checkLaws(t, "crdt.Merge(Set)", crdt.State(a), crdt.State(b), crdt.State(c), func(x, y crdt.State) crdt.State {
			return mergeState(t, x, y)
		})
	})
}

func TestSetEncodeDecodeRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := genSet().Draw(t, "s")
		enc := crdt.Encode(s)
		d, err := crdt.Decode(enc)
		if err != nil {
			t.Fatalf("Decode(Encode(s)) = %v (%x)", err, enc)
		}
		if re := crdt.Encode(d); !bytes.Equal(re, enc) {
			t.Fatalf("re-encoded %x, first encoding %x", re, enc)
		}
		if got, want := d.(crdt.Set).Members(), s.Members(); !slices.EqualFunc(got, want, bytes.Equal) {
			t.Fatalf("members %q, want %q", got, want)
		}
	})
}

// TestSetConvergence: every delta, delivered to 3–5 replicas each in its
// own shuffled order with duplicates, gives byte-identical states, equal
// to the merge of the writers' final states.
func TestSetConvergence(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		states, deltas := setReplicas(t)
		var want crdt.Set
		for _, s := range states {
			want = want.Merge(s)
		}
		for r := range rapid.IntRange(3, 5).Draw(t, "replicas") {
			got := crdt.State(nil)
			for _, i := range shuffledWithDups(t, len(deltas)) {
				got = mergeState(t, got, deltas[i])
			}
			if got == nil {
				got = crdt.Set{}
			}
			if !sameEncoding(got, want) {
				t.Fatalf("replica %d diverged:\n got %x\nwant %x", r, crdt.Encode(got), crdt.Encode(want))
			}
		}
	})
}

// TestSetConcurrentAddRemoveAddWins: two replicas hold x; one removes it
// while the other adds it again without seeing the remove. In any delivery
// order, x stays; a remove that saw the re-add removes it.
func TestSetConcurrentAddRemoveAddWins(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := rapid.SampledFrom(members).Draw(t, "member")
		a, b := rapid.SampledFrom(replicaIDs).Draw(t, "a"), rapid.SampledFrom(replicaIDs).Draw(t, "b")
		first := rapid.SampledFrom([]crdt.ReplicaID{a, b}).Draw(t, "first adder")
		add0, _ := crdt.Set{}.Add(first, m)
		sa, sb := add0, add0
		rm, _ := sa.Remove(m)
		add, _ := sb.Add(b, m)
		orders := [][]crdt.Set{{rm, add}, {add, rm}, {add, rm, add}, {rm, rm, add}}
		for _, o := range orders {
			s := add0
			for _, d := range o {
				s = s.Merge(d)
			}
			if !s.Contains(m) {
				t.Fatalf("concurrent add and remove of %q lost the add", m)
			}
		}
		seen := sb.Merge(add)
		rm2, _ := seen.Remove(m)
		if s := seen.Merge(rm2).Merge(rm).Merge(add); s.Contains(m) {
			t.Fatalf("a remove that saw every add left %q", m)
		}
	})
}

func shuffledWithDups(t *rapid.T, n int) []int {
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	if n == 0 {
		return nil
	}
	dups := rapid.SliceOfN(rapid.IntRange(0, n-1), 0, n).Draw(t, "duplicates")
	return rapid.Permutation(append(all, dups...)).Draw(t, "order")
}

// TestCounterResetConvergence: writers increment, reset and learn each
// other's counters; every delta reaches 3–5 replicas shuffled with
// duplicates. All end byte-identical, and the value is exact: per origin,
// the increments no reset had seen (a reset sees a prefix of each origin's
// increments: what its resetter had learned).
func TestCounterResetConvergence(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		writers := rapid.SliceOfNDistinct(genReplicaID(), 1, 4, rapid.ID).Draw(t, "writers")
		local := map[crdt.ReplicaID]crdt.Counter{}
		seen := map[crdt.ReplicaID]map[crdt.ReplicaID]int{} // replica → origin → increments seen
		incs := map[crdt.ReplicaID][]int64{}                // origin → its increments, in order
		floor := map[crdt.ReplicaID]int{}                   // origin → increments some reset saw
		for _, w := range writers {
			seen[w] = map[crdt.ReplicaID]int{}
		}
		var deltas []crdt.Counter
		for i := range rapid.IntRange(1, 40).Draw(t, "ops") {
			w := rapid.SampledFrom(writers).Draw(t, "writer")
			var d crdt.Counter
			switch rapid.IntRange(0, 3).Draw(t, "op") {
			case 0:
				d = local[w].Reset(w, ts(int64(i), 0))
				for o, n := range seen[w] {
					floor[o] = max(floor[o], n)
				}
			case 1:
				o := rapid.SampledFrom(writers).Draw(t, "from")
				d = local[o]
				for id, n := range seen[o] {
					seen[w][id] = max(seen[w][id], n)
				}
			default:
				by := rapid.Int64Range(-5, 5).Draw(t, "by")
				var err error
				if d, err = local[w].Increment(w, by); err != nil {
					t.Fatalf("Increment: %v", err)
				}
				incs[w] = append(incs[w], by)
				seen[w][w] = len(incs[w])
			}
			local[w] = local[w].Merge(d)
			deltas = append(deltas, d)
		}
		var want int64
		for o, list := range incs {
			for _, by := range list[floor[o]:] {
				want += by
			}
		}
		var ref crdt.State
		for _, d := range deltas {
			ref = mergeState(t, ref, d)
		}
		for r := range rapid.IntRange(3, 5).Draw(t, "replicas") {
			var got crdt.State
			for _, i := range shuffledWithDups(t, len(deltas)) {
				got = mergeState(t, got, deltas[i])
			}
			if !sameEncoding(got, ref) {
				t.Fatalf("replica %d diverged:\n got %x\nwant %x", r, crdt.Encode(got), crdt.Encode(ref))
			}
			if v := got.(crdt.Counter).Value(); v != want {
				t.Fatalf("replica %d counter = %d, want %d (increments no reset saw)", r, v, want)
			}
		}
		// Laws, on the writers' states (resets included).
		a, b, c := local[writers[0]], local[rapid.SampledFrom(writers).Draw(t, "b")], ref.(crdt.Counter)
		checkLaws(t, "Counter.Merge with resets", a, b, c, crdt.Counter.Merge)
		enc := crdt.Encode(c)
		dec, err := crdt.Decode(enc)
		if err != nil || !bytes.Equal(crdt.Encode(dec), enc) {
			t.Fatalf("reset counter does not round-trip: %v", err)
		}
	})
}

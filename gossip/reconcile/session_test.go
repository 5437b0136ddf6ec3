package reconcile

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/internal/rangetree"
	"pgregory.net/rapid"
)

// Placement of identities in the hash space, to exercise every path:
// spread out, crowded into one leaf, colliding on a handful of hashes, or
// clustered under a few prefixes.
const (
	placeUniform = iota
	placeOneLeaf
	placeCollide
	placeClusters
	numPlacements
)

// inLeaf returns the hash at offset h (mod the leaf's size) in leaf i.
func inLeaf(i, h uint64) uint64 {
	r := rangetree.NodeRange(rangetree.LeafLevel, i)
	return r.Lo + h%(r.Hi-r.Lo+1)
}

func place(mode int, typ crdt.Type, key []byte) uint64 {
	h := hashBytes(uint64(typ), key)
	switch mode {
	case placeOneLeaf:
		return inLeaf(0xabcd, h)
	case placeCollide:
		return inLeaf(0x1234, h%4)
	case placeClusters:
		return (h%3)<<56 | h>>40
	}
	return h
}

func newItem(mode int, typ crdt.Type, key []byte, version uint64) Item {
	return Item{
		Hash:        place(mode, typ, key),
		Fingerprint: hashBytes(version, append([]byte{byte(typ)}, key...)),
		Type:        typ,
		Key:         key,
	}
}

// pairSpec describes a random pair of replicas.
type pairSpec struct {
	n                         int // items in the common base
	mode                      int
	missA, missB, diff, onlyA int // per-mille rates
	onlyB                     int
	emptyA, emptyB            bool
	seed                      uint64
}

func genPair(s pairSpec) (a, b replica) {
	rng := rand.New(rand.NewPCG(s.seed, 7))
	a, b = replica{}, replica{}
	fresh := func() Item {
		typ := crdt.Type(1 + rng.IntN(2))
		key := fmt.Appendf(nil, "k%x", rng.Uint64())
		return newItem(s.mode, typ, key, rng.Uint64())
	}
	hit := func(perMille int) bool { return rng.IntN(1000) < perMille }
	for range s.n {
		it := fresh()
		switch {
		case hit(s.missA):
			b.merge(it)
		case hit(s.missB):
			a.merge(it)
		case hit(s.diff):
			a.merge(it)
			b.merge(newItem(s.mode, it.Type, it.Key, rng.Uint64()))
		default:
			a.merge(it)
			b.merge(it)
		}
		if hit(s.onlyA) {
			a.merge(fresh())
		}
		if hit(s.onlyB) {
			b.merge(fresh())
		}
	}
	if s.emptyA {
		a = replica{}
	}
	if s.emptyB {
		b = replica{}
	}
	return a, b
}

func drawSpec(t *rapid.T) pairSpec {
	rate := rapid.SampledFrom([]int{0, 0, 1, 10, 50, 300, 1000})
	s := pairSpec{
		n:     rapid.IntRange(0, 1200).Draw(t, "n"),
		mode:  rapid.IntRange(0, numPlacements-1).Draw(t, "placement"),
		missA: rate.Draw(t, "missA"),
		missB: rate.Draw(t, "missB"),
		diff:  rate.Draw(t, "diff"),
		onlyA: rate.Draw(t, "onlyA"),
		onlyB: rate.Draw(t, "onlyB"),
		seed:  rapid.Uint64().Draw(t, "seed"),
	}
	switch rapid.IntRange(0, 9).Draw(t, "empty") {
	case 0:
		s.emptyA = true
	case 1:
		s.emptyB = true
	case 2:
		s.emptyA, s.emptyB = true, true
	}
	return s
}

func drawConfig(t *rapid.T, name string) Config {
	return Config{
		ListThreshold: rapid.SampledFrom([]int{1, 2, 16, 16, 100}).Draw(t, name+".ListThreshold"),
		MessageBudget: rapid.SampledFrom([]int{64, 300, 4096, MaxMessageSize, MaxMessageSize}).Draw(t, name+".MessageBudget"),
	}
}

// fataler is what checkSession needs of *testing.T and *rapid.T.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

// checkSession runs a session over a and b and checks the laws: both sides
// end equal once the outcome is applied; nothing is sent that the peer
// already holds; every announced stream is one the peer was told to send;
// identical or one-sided replicas settle in one round trip.
func checkSession(t fataler, a, b replica, cfgA, cfgB Config, takeEach bool) exchange {
	t.Helper()
	x, err := runSession(indexOf(a, false), indexOf(b, false), cfgA, cfgB, takeEach)
	if err != nil {
		t.Fatalf("session: %v", err)
	}
	a2, b2 := apply(a, b, x)
	if !sameItems(a2, b2) {
		t.Fatalf("replicas differ after the session: %d vs %d items (a sends %d, streams %v; b sends %d, streams %v)",
			len(a2), len(b2), len(x.outA.Send), x.outA.Stream, len(x.outB.Send), x.outB.Stream)
	}
	precise := func(name string, o Outcome, peer replica) {
		for _, it := range o.Send {
			if p, ok := peer[idOf(it)]; ok && p.Fingerprint == it.Fingerprint {
				t.Fatalf("%s sends %q, which the peer already holds", name, it.Key)
			}
		}
	}
	precise("initiator", x.outA, b)
	precise("responder", x.outB, a)
	covered := func(name string, recv []Span, stream []Range) {
		for _, sp := range recv {
			ok := false
			for _, r := range stream {
				ok = ok || (r.Lo <= sp.Lo && sp.Hi <= r.Hi)
			}
			if !ok {
				t.Fatalf("%s expects %v streamed, but the peer streams only %v", name, sp.Range, stream)
			}
		}
	}
	covered("initiator", x.outA.Receive, x.outB.Stream)
	covered("responder", x.outB.Receive, x.outA.Stream)
	if sameItems(a, b) {
		if x.roundTrips() != 1 || x.bytesAB+x.bytesBA > 512 {
			t.Fatalf("identical replicas: %d round trips, %d bytes", x.roundTrips(), x.bytesAB+x.bytesBA)
		}
		if !x.outA.Empty() || !x.outB.Empty() {
			t.Fatalf("identical replicas, outcomes %+v %+v", x.outA, x.outB)
		}
	}
	if (len(a) == 0) != (len(b) == 0) && x.roundTrips() != 1 {
		t.Fatalf("one side empty: %d round trips", x.roundTrips())
	}
	if got := x.statsA.BytesSent; got != int64(x.bytesAB) {
		t.Fatalf("initiator counts %d bytes sent, %d went", got, x.bytesAB)
	}
	if got := x.statsB.BytesReceived; got != int64(x.bytesAB) {
		t.Fatalf("responder counts %d bytes received, %d came", got, x.bytesAB)
	}
	return x
}

func TestPropertyConverges(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := drawSpec(t)
		a, b := genPair(s)
		cfgA, cfgB := drawConfig(t, "a"), drawConfig(t, "b")
		checkSession(t, a, b, cfgA, cfgB, rapid.Bool().Draw(t, "takeEach"))
	})
}

func TestConvergesTable(t *testing.T) {
	cases := []pairSpec{
		{n: 0},
		{n: 500},
		{n: 500, emptyA: true},
		{n: 500, emptyB: true},
		{n: 3000, missA: 5, missB: 5, diff: 5, onlyA: 5, onlyB: 5},
		{n: 3000, mode: placeOneLeaf, missA: 5, diff: 5},
		{n: 3000, mode: placeCollide, missB: 50, diff: 50},
		{n: 3000, mode: placeClusters, missA: 300, onlyB: 300},
		{n: 3000, missA: 1000},
		{n: 3000, diff: 1000},
		{n: 30, missA: 500, missB: 500},
		// Lopsided: one side holds few items where the other holds many,
		// so ranges are split or streamed both ways rather than listed.
		{n: 1500, mode: placeOneLeaf, missA: 990},
		{n: 1500, mode: placeOneLeaf, missB: 990},
		{n: 1500, mode: placeCollide, missA: 990, onlyA: 5},
		{n: 1500, mode: placeCollide, missB: 990, onlyB: 5},
	}
	for i, s := range cases {
		s.seed = uint64(i)
		t.Run(fmt.Sprintf("%+v", s), func(t *testing.T) {
			a, b := genPair(s)
			for _, budget := range []int{64, MaxMessageSize} {
				x := checkSession(t, a, b, withBudget(budget), withBudget(budget), false)
				t.Logf("budget %d: %d/%d items, %d round trips, %d+%d bytes", budget, len(a), len(b), x.roundTrips(), x.bytesAB, x.bytesBA)
			}
		})
	}
}

// TestCostGoals checks the cost goals of DESIGN.md on 200,000 items (the
// benchmark measures 1,000,000): identical replicas settle in one round
// trip and at most 512 bytes; 100 differences in at most 6 round trips and
// 100 KiB.
func TestCostGoals(t *testing.T) {
	const n = 200_000
	rng := rand.New(rand.NewPCG(42, 42))
	base := make([]Item, n)
	for i := range base {
		base[i] = newItem(placeUniform, crdt.TypeRegister, fmt.Appendf(nil, "key-%012d", i), rng.Uint64())
	}
	for _, d := range []int{0, 1, 100} {
		a, b := synthPair(base, d, rng)
		x, err := runSession(a, b, DefaultConfig(), DefaultConfig(), false)
		if err != nil {
			t.Fatal(err)
		}
		total := x.bytesAB + x.bytesBA
		t.Logf("n=%d d=%d: %d round trips, %d B → %d B ←, sends %d+%d items", n, d, x.roundTrips(), x.bytesAB, x.bytesBA, len(x.outA.Send), len(x.outB.Send))
		switch {
		case d == 0 && (x.roundTrips() != 1 || total > 512):
			t.Errorf("d=0: %d round trips, %d bytes", x.roundTrips(), total)
		case d > 0 && (x.roundTrips() > 6 || total > 100<<10):
			t.Errorf("d=%d: %d round trips, %d bytes", d, x.roundTrips(), total)
		}
		if got := len(x.outA.Send) + len(x.outB.Send); got > 2*d {
			t.Errorf("d=%d: %d items to send", d, got)
		}
		ra, rb := replicaOf(a), replicaOf(b)
		if a2, b2 := apply(ra, rb, x); !sameItems(a2, b2) {
			t.Errorf("d=%d: replicas differ after the session", d)
		}
	}
}

func replicaOf(ix *memIndex) replica {
	r := make(replica, len(ix.items))
	for _, it := range ix.items {
		r.merge(it)
	}
	return r
}

// synthPair returns tree-backed indexes over base and a copy of base with
// d differences: a third missing on each side, a third changed.
func synthPair(base []Item, d int, rng *rand.Rand) (a, b *memIndex) {
	ai := append([]Item(nil), base...)
	bi := append([]Item(nil), base...)
	perm := rng.Perm(len(base))[:d]
	drop := func(items []Item, gone map[int]bool) []Item {
		out := items[:0]
		for i, it := range items {
			if !gone[i] {
				out = append(out, it)
			}
		}
		return out
	}
	goneA, goneB := map[int]bool{}, map[int]bool{}
	for j, i := range perm {
		switch j % 3 {
		case 0:
			goneA[i] = true
		case 1:
			goneB[i] = true
		case 2:
			bi[i].Fingerprint = rng.Uint64()
		}
	}
	return newMemIndex(drop(ai, goneA), true), newMemIndex(drop(bi, goneB), true)
}

func TestBootstrapIsOneRoundTrip(t *testing.T) {
	a, _ := genPair(pairSpec{n: 2000, seed: 3})
	for _, dir := range []string{"initiator empty", "responder empty"} {
		x := exchange{}
		var err error
		if dir == "initiator empty" {
			x, err = runSession(indexOf(replica{}, true), indexOf(a, true), DefaultConfig(), DefaultConfig(), false)
		} else {
			x, err = runSession(indexOf(a, true), indexOf(replica{}, true), DefaultConfig(), DefaultConfig(), false)
		}
		if err != nil {
			t.Fatal(err)
		}
		full, empty := x.outB, x.outA
		if dir == "responder empty" {
			full, empty = x.outA, x.outB
		}
		whole := []Range{rangetree.NodeRange(0, 0)}
		if x.roundTrips() != 1 || len(full.Stream) != 1 || full.Stream[0] != whole[0] || len(full.Send) != 0 {
			t.Fatalf("%s: %d round trips, full side %+v", dir, x.roundTrips(), full)
		}
		if len(empty.Receive) != 1 || empty.Receive[0].Count != uint64(len(a)) {
			t.Fatalf("%s: empty side expects %+v, want the whole space with %d items", dir, empty.Receive, len(a))
		}
	}
}

// TestPartialBootstrapStreamsTheRest: a peer that received a prefix of the
// hash space (a bootstrap cut short) gets the rest streamed in ranges.
func TestPartialBootstrapStreamsTheRest(t *testing.T) {
	full, _ := genPair(pairSpec{n: 5000, seed: 9})
	part := replica{}
	for k, it := range full {
		if it.Hash < 0x6000_0000_0000_0000 {
			part[k] = it
		}
	}
	x := checkSession(t, part, full, DefaultConfig(), DefaultConfig(), false)
	if len(x.outA.Send) != 0 || len(x.outA.Stream) != 0 {
		t.Fatalf("the partial side sends %+v", x.outA)
	}
	if len(x.outB.Stream) != 1 || x.outB.Stream[0] != (Range{Lo: 0x6000_0000_0000_0000, Hi: math.MaxUint64}) {
		t.Fatalf("full side streams %v, want the missing upper part", x.outB.Stream)
	}
	var expect uint64
	for _, sp := range x.outA.Receive {
		expect += sp.Count
	}
	if expect != uint64(len(full)-len(part)) {
		t.Fatalf("partial side expects %d items, %d are missing", expect, len(full)-len(part))
	}
}

func TestIndexErrorEndsSession(t *testing.T) {
	a, b := genPair(pairSpec{n: 50, diff: 500, seed: 1})
	ia, ib := indexOf(a, false), indexOf(b, false)
	boom := errors.New("disk on fire")
	ib.failItems = boom
	_, err := runSession(ia, ib, DefaultConfig(), DefaultConfig(), false)
	if !errors.Is(err, boom) || errors.Is(err, ErrMalformed) {
		t.Fatalf("got %v, want the index's error, not ErrMalformed", err)
	}
}

func TestConfigValidation(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig: %v", err)
	}
	ix := indexOf(replica{}, false)
	for _, tc := range []struct {
		cfg  Config
		want []string // every problem, each on its own line
	}{
		{Config{}, []string{"ListThreshold 0 out of", "MessageBudget 0 out of"}},
		{Config{ListThreshold: -1, MessageBudget: MaxMessageSize + 1}, []string{"ListThreshold -1", "MessageBudget 4194305"}},
		{Config{ListThreshold: MaxListItems, MessageBudget: 64}, []string{"ListThreshold 65536"}},
		{Config{ListThreshold: 1, MessageBudget: 10}, []string{"MessageBudget 10"}},
	} {
		err := tc.cfg.Validate()
		if !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%+v: Validate = %v, want ErrInvalidConfig", tc.cfg, err)
			continue
		}
		lines := strings.Split(err.Error(), "\n")
		if len(lines) != len(tc.want) {
			t.Errorf("%+v: %d problems reported, want %d:\n%v", tc.cfg, len(lines), len(tc.want), err)
		}
		for i, line := range lines {
			if !strings.HasPrefix(line, "reconcile: invalid config: ") || i < len(tc.want) && !strings.Contains(line, tc.want[i]) {
				t.Errorf("%+v: problem %d is %q, want it to name %q", tc.cfg, i, line, tc.want)
			}
		}
		if _, err := NewInitiator(ix, tc.cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("NewInitiator(%+v) = %v", tc.cfg, err)
		}
		if _, err := NewResponder(ix, tc.cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("NewResponder(%+v) = %v", tc.cfg, err)
		}
	}
	if _, err := NewResponder(nil, DefaultConfig()); err == nil {
		t.Error("nil index accepted")
	}
}

func TestMisuse(t *testing.T) {
	ix := indexOf(replica{}, false)
	ini, _ := NewInitiator(ix, DefaultConfig())
	res, _ := NewResponder(ix, DefaultConfig())
	if _, _, err := ini.Handle([]byte{8, 0}); !errors.Is(err, ErrState) {
		t.Errorf("Handle before Start: %v", err)
	}
	if _, err := res.Start(); !errors.Is(err, ErrState) {
		t.Errorf("Start on a responder: %v", err)
	}
	msg, err := ini.Start()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ini.Start(); !errors.Is(err, ErrState) {
		t.Errorf("Start twice: %v", err)
	}
	reply, done, err := res.Handle(msg)
	if err != nil || !done || reply == nil {
		t.Fatalf("empty vs empty: %v %v %v", reply, done, err)
	}
	if _, _, err := res.Handle(msg); !errors.Is(err, ErrState) {
		t.Errorf("Handle after done: %v", err)
	}
	if r, done, err := ini.Handle(reply); err != nil || !done || r != nil {
		t.Fatalf("initiator's end: %v %v %v", r, done, err)
	}
}

func TestMergeRanges(t *testing.T) {
	got := mergeRanges([]Range{rangetree.NodeRange(1, 3), rangetree.NodeRange(1, 1), rangetree.NodeRange(1, 2), rangetree.NodeRange(1, 15), rangetree.NodeRange(2, 0)})
	want := []Range{rangetree.NodeRange(2, 0), {Lo: rangetree.NodeRange(1, 1).Lo, Hi: rangetree.NodeRange(1, 3).Hi}, rangetree.NodeRange(1, 15)}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	spans := mergeSpans([]Span{{rangetree.NodeRange(1, 1), 2}, {rangetree.NodeRange(1, 0), 3}, {rangetree.NodeRange(1, 5), 1}})
	if len(spans) != 2 || spans[0].Count != 5 || spans[0].Hi != rangetree.NodeRange(1, 1).Hi {
		t.Fatalf("spans %v", spans)
	}
}

// TestNodeChildren checks that a node's first and last children span it.
func TestNodeChildren(t *testing.T) {
	for L := 0; L <= rangetree.LeafLevel; L++ {
		n := node{uint8(L), 5 % (1 << (4 * L))}
		r := n.rng()
		first, last := n.child(0).rng(), n.child(rangetree.Fanout-1).rng()
		if L < rangetree.LeafLevel && (first.Lo != r.Lo || last.Hi != r.Hi) {
			t.Fatalf("level %d: children %v..%v do not cover %v", L, first, last, r)
		}
	}
}

// lyingIndex under-reports its counts, as an index that grows during a
// session may, and returns items outside the range asked for.
type lyingIndex struct{ *memIndex }

func (l lyingIndex) Summarize(lo, hi uint64) Summary {
	s := l.memIndex.Summarize(lo, hi)
	s.Count = min(s.Count, 10)
	return s
}

func (l lyingIndex) Items(lo, hi uint64, fn func(Item) error) error {
	if err := fn(Item{Hash: lo - 1, Fingerprint: 1, Key: []byte("outside")}); err != nil {
		return err
	}
	return l.memIndex.Items(lo, hi, fn)
}

func TestListOverflow(t *testing.T) {
	const n = MaxListItems + 100
	items := make([]Item, n)
	for i := range items {
		items[i] = newItem(placeOneLeaf, crdt.TypeRegister, fmt.Appendf(nil, "k%d", i), uint64(i))
	}
	ix := newMemIndex(items, false)
	leaf := node{rangetree.LeafLevel, 0xabcd}
	s, err := NewResponder(lyingIndex{ix}, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	// Their list names one of our items and one we lack: we ask for the
	// second and, holding far too many to send one by one, stream ours.
	a, err := s.answerList(&question{node: leaf, list: true, fps: []uint64{ix.items[7].Fingerprint, 12345}})
	if err != nil {
		t.Fatal(err)
	}
	if a.resp == nil || a.resp.Kind != KindNeed || len(a.resp.Need) != 1 || a.resp.Need[0] != 1 {
		t.Fatalf("response %+v", a.resp)
	}
	if len(a.out.Stream) != 1 || a.out.Stream[0] != leaf.rng() || len(a.out.Send) != 0 {
		t.Fatalf("outcome %+v", a.out)
	}
	// The one item they hold is streamed with the range, and said so.
	if len(a.out.Held) != 1 || a.out.Held[0] != ix.items[7].Fingerprint {
		t.Fatalf("held %v, want [%d]", a.out.Held, ix.items[7].Fingerprint)
	}
	// Our summary says 10 items, so we start listing, but the range holds
	// more than a list may: both sides stream it instead.
	a, err = s.answer(&question{node: leaf, sum: Summary{Count: 5, Hash: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if a.resp == nil || a.resp.Kind != KindStreamBoth || len(a.asked) != 0 {
		t.Fatalf("response %+v", a.resp)
	}
	if len(a.out.Stream) != 1 || len(a.out.Receive) != 1 || a.out.Receive[0].Count != 5 {
		t.Fatalf("outcome %+v", a.out)
	}
}

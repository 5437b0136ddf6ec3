package rangetree

import (
	"math"
	"math/rand/v2"
	"testing"

	"pgregory.net/rapid"
)

func TestGeometry(t *testing.T) {
	if Fanout != 16 || LeafLevel != 4 || Leaves != 1<<16 {
		t.Fatalf("geometry %d/%d/%d: the wire protocol and every peer depend on 16/4/65536", Fanout, LeafLevel, Leaves)
	}
	if r := NodeRange(0, 0); r != (Range{0, math.MaxUint64}) {
		t.Errorf("root = %v", r)
	}
	if r := NodeRange(1, 15); r != (Range{0xf << 60, math.MaxUint64}) {
		t.Errorf("last child of the root = %v", r)
	}
	if r := NodeRange(LeafLevel, 0x1234); r != (Range{0x1234 << 48, 0x1234<<48 | (1<<48 - 1)}) {
		t.Errorf("leaf 0x1234 = %v", r)
	}
	if l := LeafOf(0x1234_5678_9abc_def0); l != 0x1234 {
		t.Errorf("LeafOf = %#x", l)
	}
	if r := NodeRange(LeafLevel, Leaves-1); r.Hi != math.MaxUint64 {
		t.Errorf("last leaf = %v", r)
	}
	if got := (Range{1, 0}).LeafAligned(); got {
		t.Error("an empty range is leaf-aligned")
	}
	if got := (Range{0, 1<<48 - 2}).LeafAligned(); got {
		t.Error("a range ending inside a leaf is leaf-aligned")
	}
}

// TestNodeRange checks, for random nodes, that a node's children tile it
// in order, that the node of every hash in it is it, and that its leaves
// are exactly those LeafOf maps its hashes to.
func TestNodeRange(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		level := rapid.IntRange(0, LeafLevel).Draw(rt, "level")
		index := rapid.Uint64Range(0, 1<<(4*level)-1).Draw(rt, "index")
		r := NodeRange(level, index)
		if !r.LeafAligned() || r.Lo > r.Hi {
			rt.Fatalf("%v is not a whole number of leaves", r)
		}
		h := rapid.Uint64Range(r.Lo, r.Hi).Draw(rt, "h")
		if NodeOf(level, h) != index || !r.Contains(h) {
			rt.Fatalf("hash %x of %v is in node %d, want %d", h, r, NodeOf(level, h), index)
		}
		if level > 0 && !NodeRange(level-1, index/Fanout).Contains(h) {
			rt.Fatalf("%v is outside its parent", r)
		}
		first, last := NodeRange(LeafLevel, LeafOf(r.Lo)), NodeRange(LeafLevel, LeafOf(r.Hi))
		if first.Lo != r.Lo || last.Hi != r.Hi {
			rt.Fatalf("leaves of %v span [%x, %x]", r, first.Lo, last.Hi)
		}
		if level == LeafLevel {
			return
		}
		next := r.Lo
		for c := range uint64(Fanout) {
			cr := NodeRange(level+1, index*Fanout+c)
			if cr.Lo != next || cr.Hi < cr.Lo {
				rt.Fatalf("child %d of %v is %v, want it to start at %x", c, r, cr, next)
			}
			next = cr.Hi + 1
		}
		if next-1 != r.Hi {
			rt.Fatalf("children of %v end at %x", r, next-1)
		}
	})
}

// TestTree checks every node of a tree against brute-force sums of the
// items added, including removals, and SumLeaves/Sum against a brute-force
// sum over random leaf ranges.
func TestTree(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		tr := New()
		type item struct {
			h, fp   uint64
			removed bool
		}
		var items []item
		// Hashes bunched into a few leaves or spread; some removed again.
		spread := rapid.Bool().Draw(rt, "spread")
		for i, h := range rapid.SliceOfN(rapid.Uint64(), 0, 60).Draw(rt, "hashes") {
			if !spread {
				h = h>>56<<48 | h&0xffff // 256 leaves at most
			}
			it := item{h: h, fp: h*31 + uint64(i)}
			tr.Add(it.h, Summary{1, it.fp})
			items = append(items, it)
		}
		for _, i := range rapid.SliceOfNDistinct(rapid.IntRange(0, max(len(items)-1, 0)), 0, len(items)/2, rapid.ID).Draw(rt, "remove") {
			tr.Add(items[i].h, Summary{}.Sub(Summary{1, items[i].fp}))
			items[i].removed = true
		}
		brute := func(r Range) Summary {
			var s Summary
			for _, it := range items {
				if !it.removed && r.Contains(it.h) {
					s = s.Add(Summary{1, it.fp})
				}
			}
			return s
		}
		if got, want := tr.Total(), brute(NodeRange(0, 0)); got != want {
			rt.Fatalf("Total = %+v, want %+v", got, want)
		}
		for _, it := range items {
			if it.removed {
				continue
			}
			for l := 0; l <= LeafLevel; l++ {
				i := NodeOf(l, it.h)
				if got, want := tr.Node(l, i), brute(NodeRange(l, i)); got != want {
					rt.Fatalf("Node(%d, %d) = %+v, want %+v", l, i, got, want)
				}
			}
			if got, want := tr.Leaf(LeafOf(it.h)), tr.Node(LeafLevel, LeafOf(it.h)); got != want {
				rt.Fatalf("Leaf = %+v, Node = %+v", got, want)
			}
		}
		a := rapid.Uint64Range(0, Leaves-1).Draw(rt, "a")
		b := rapid.Uint64Range(a, Leaves-1).Draw(rt, "b")
		r := Range{NodeRange(LeafLevel, a).Lo, NodeRange(LeafLevel, b).Hi}
		if got, want := tr.SumLeaves(a, b), brute(r); got != want {
			rt.Fatalf("SumLeaves(%d, %d) = %+v, want %+v", a, b, got, want)
		}
		if got, want := tr.Sum(r), brute(r); got != want {
			rt.Fatalf("Sum(%v) = %+v, want %+v", r, got, want)
		}
		if got := tr.SumLeaves(b+1, b); got != (Summary{}) {
			rt.Fatalf("SumLeaves of no leaves = %+v", got)
		}
	})
}

// TestTreeEmptyAfterRemoval checks that removing every item leaves the
// zero tree, as storage relies on to free a namespace's tree.
func TestTreeEmptyAfterRemoval(t *testing.T) {
	tr := New()
	rng := rand.New(rand.NewPCG(1, 2))
	hs := make([]uint64, 1000)
	for i := range hs {
		hs[i] = rng.Uint64()
		tr.Add(hs[i], Summary{1, hs[i] ^ 7})
	}
	for _, h := range hs {
		tr.Add(h, Summary{}.Sub(Summary{1, h ^ 7}))
	}
	for l := 0; l <= LeafLevel; l++ {
		for i := range uint64(1) << (4 * l) {
			if s := tr.Node(l, i); s != (Summary{}) {
				t.Fatalf("Node(%d, %d) = %+v after removing everything", l, i, s)
			}
		}
	}
}

func BenchmarkAdd(b *testing.B) {
	tr := New()
	for i := range b.N {
		tr.Add(uint64(i)*0x9E3779B97F4A7C15, Summary{1, uint64(i)})
	}
}

func BenchmarkSumLeaves(b *testing.B) {
	tr := New()
	for i := range 100000 {
		tr.Add(uint64(i)*0x9E3779B97F4A7C15, Summary{1, uint64(i)})
	}
	var s Summary
	for i := range b.N {
		a := uint64(i*7919) % Leaves
		s = s.Add(tr.SumLeaves(a, a+(Leaves-1-a)/2))
	}
	_ = s
}

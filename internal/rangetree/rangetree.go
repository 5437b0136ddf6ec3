// Package rangetree defines, once, the tree of hash ranges that
// anti-entropy compares: its geometry (a 16-ary tree over the 64-bit hash
// space, from the whole space at level 0 down to 2^16 leaves at
// LeafLevel), the Range and Summary types, and Tree, the dense in-memory
// tree of range sums that storage keeps for each namespace.
//
// It is pure: standard library only, no I/O, no goroutines. storage
// maintains a Tree; gossip/reconcile walks the same geometry with
// NodeRange; tests of both use this package instead of a copy of it.
package rangetree

import (
	"fmt"
	"math"
)

// The geometry. Level 0 is the whole hash space; level L has Fanout^L
// nodes, node i covering the hashes whose top 4·L bits equal i. Leaves are
// the nodes of LeafLevel: leaf i covers [i<<48, (i+1)<<48 - 1].
const (
	fanBits   = 4
	Fanout    = 1 << fanBits                       // children of a node: 16
	LeafLevel = 4                                  // depth of the leaves below the root
	Leaves    = 1 << (fanBits * LeafLevel)         // leaves: 2^16
	leafShift = 64 - fanBits*LeafLevel             // a hash's leaf is h >> leafShift
	leafMask  = uint64(1)<<leafShift - 1           // a hash's offset within its leaf
	nodes     = (Leaves*Fanout - 1) / (Fanout - 1) // nodes of all levels
)

// LeafOf returns the index of the leaf holding hash h.
func LeafOf(h uint64) uint64 { return h >> leafShift }

// NodeOf returns the index, at level (0 ≤ level ≤ LeafLevel), of the node
// holding hash h.
func NodeOf(level int, h uint64) uint64 {
	if level <= 0 {
		return 0
	}
	return h >> (64 - fanBits*uint(level))
}

// NodeRange returns the range of node index at level: level in
// [0, LeafLevel], index in [0, Fanout^level). Its children are the nodes
// index·Fanout + c (c < Fanout) of level+1, which tile it in order.
func NodeRange(level int, index uint64) Range {
	if level <= 0 {
		return Range{0, math.MaxUint64}
	}
	shift := 64 - fanBits*uint(level)
	lo := index << shift
	return Range{lo, lo | (1<<shift - 1)}
}

// Range is an inclusive range [Lo, Hi] of the hash space.
type Range struct {
	Lo, Hi uint64
}

// String formats r as [lo, hi] in hexadecimal.
func (r Range) String() string { return fmt.Sprintf("[%016x, %016x]", r.Lo, r.Hi) }

// Contains reports whether h lies in r.
func (r Range) Contains(h uint64) bool { return r.Lo <= h && h <= r.Hi }

// LeafAligned reports whether r is a whole number of leaves: it starts at
// the first hash of a leaf and ends at the last hash of one, so a Tree
// answers its summary exactly (Tree.SumLeaves of LeafOf(Lo)..LeafOf(Hi)).
// Every NodeRange is leaf-aligned.
func (r Range) LeafAligned() bool {
	return r.Lo <= r.Hi && r.Lo&leafMask == 0 && r.Hi&leafMask == leafMask
}

// Summary condenses a set of items: their number and the sum of their
// fingerprints modulo 2^64. Equal summaries mean, with overwhelming
// probability, equal contents. An empty set has the zero Summary.
type Summary struct {
	Count uint64 // number of items
	Hash  uint64 // sum of their fingerprints, mod 2^64
}

// Add returns the summary of the union of two disjoint sets (s + o, each
// field mod 2^64).
func (s Summary) Add(o Summary) Summary {
	return Summary{Count: s.Count + o.Count, Hash: s.Hash + o.Hash}
}

// Sub returns s - o (each field mod 2^64): the summary of s's set without
// o's, or the delta to add when an item leaves.
func (s Summary) Sub(o Summary) Summary {
	return Summary{Count: s.Count - o.Count, Hash: s.Hash - o.Hash}
}

// Tree holds the Summary of every node of the range tree. It is dense:
// about 1.1 MB, whatever it holds. The zero Tree is not usable; use New.
// A Tree is not safe for concurrent use; its owner locks.
type Tree struct {
	levels [LeafLevel + 1][]Summary // levels[L][i]: node i of level L
}

// New returns an empty tree.
func New() *Tree {
	t := &Tree{}
	all := make([]Summary, nodes)
	for l := range t.levels {
		n := 1 << (fanBits * l)
		t.levels[l], all = all[:n:n], all[n:]
	}
	return t
}

// Add adds d to the leaf holding hash h and to each of its ancestors. Both
// fields wrap mod 2^64, so d may be a negative delta (see Summary.Sub): an
// item leaving is Add(h, Summary{}.Sub(old)).
func (t *Tree) Add(h uint64, d Summary) {
	leaf := h >> leafShift
	for l := LeafLevel; l >= 0; l-- {
		n := &t.levels[l][leaf>>(fanBits*(LeafLevel-l))]
		n.Count += d.Count
		n.Hash += d.Hash
	}
}

// Total returns the summary of the whole tree (the root).
func (t *Tree) Total() Summary { return t.levels[0][0] }

// Node returns the summary of node index at level, both in range (see
// NodeRange); it panics otherwise, as an index out of range does.
func (t *Tree) Node(level int, index uint64) Summary { return t.levels[level][index] }

// Leaf returns the summary of leaf i < Leaves.
func (t *Tree) Leaf(i uint64) Summary { return t.levels[LeafLevel][i] }

// SumLeaves returns the summary of leaves a..b inclusive (none if a > b;
// b < Leaves). It reads at most 2·(Fanout-1) nodes per level.
func (t *Tree) SumLeaves(a, b uint64) Summary {
	var s Summary
	for l := LeafLevel; l >= 0 && a <= b; l-- {
		lv := t.levels[l]
		for a <= b && a%Fanout != 0 {
			s.Count += lv[a].Count
			s.Hash += lv[a].Hash
			a++
		}
		for a <= b && b%Fanout != Fanout-1 {
			s.Count += lv[b].Count
			s.Hash += lv[b].Hash
			if b == 0 {
				return s
			}
			b--
		}
		if a > b {
			break
		}
		a, b = a/Fanout, b/Fanout
	}
	return s
}

// Sum returns the summary of the leaves r overlaps: exactly the items of
// r when r.LeafAligned().
func (t *Tree) Sum(r Range) Summary {
	if r.Lo > r.Hi {
		return Summary{}
	}
	return t.SumLeaves(LeafOf(r.Lo), LeafOf(r.Hi))
}

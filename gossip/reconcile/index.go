package reconcile

import (
	"fmt"
	"math"

	"github.com/grapevine-kv/grapevine/crdt"
)

// The shape of the range tree over the hash space. Level 0 is the whole
// space; level L has Fanout^L ranges, each the set of hashes sharing a
// prefix of 4·L bits. LeafLevel is the deepest level compared by summaries
// (2^16 ranges, kept in memory by the index); a differing leaf is resolved
// by an item list.
const (
	Fanout    = 16
	LeafLevel = 4
)

// Summary condenses the items of a range: their number and the sum of their
// fingerprints modulo 2^64. A range with Count 0 has Hash 0.
type Summary struct {
	Count uint64 // number of items in the range
	Hash  uint64 // sum of their fingerprints, mod 2^64
}

// Item is one stored state as the index sees it.
type Item struct {
	// Hash places the item in the hash space. It must be a function of
	// (Type, Key) only, the same on every peer, so that both sides of a
	// session place one identity in the same range.
	Hash uint64
	// Fingerprint identifies the state: a 64-bit hash of type, key and
	// encoded state. Two items with equal fingerprints are taken to be the
	// same state; any change of the state changes it.
	Fingerprint uint64
	Type        crdt.Type // with Key, the item's identity
	Key         []byte    // the key, without namespace prefix
}

// Index is one side's view of a namespace: what a session needs from
// storage. It is owned by this package; storage implements it.
//
// The index may change while a session runs (writes do not stop for
// anti-entropy). A session then may miss a difference, which a later
// session repairs; it never fails or misbehaves because of it.
type Index interface {
	// Summarize returns the Summary of the items with lo ≤ Hash ≤ hi.
	// A session asks only for the ranges of the tree from level 0 to
	// LeafLevel (see NodeRange), which an in-memory tree of range sums
	// answers without I/O; it must not block. Called only from the
	// goroutine driving the session.
	Summarize(lo, hi uint64) Summary
	// Items calls fn for each item with lo ≤ Hash ≤ hi, in ascending Hash
	// order (items of equal Hash in any order). It stops at, and returns,
	// the first error from fn. Item.Key is valid only during the call to
	// fn; the session copies what it keeps. It may read from disk.
	Items(lo, hi uint64, fn func(Item) error) error
}

// Range is an inclusive range [Lo, Hi] of the hash space.
type Range struct {
	Lo, Hi uint64
}

// String formats r as [lo, hi] in hexadecimal.
func (r Range) String() string { return fmt.Sprintf("[%016x, %016x]", r.Lo, r.Hi) }

// Contains reports whether h lies in r.
func (r Range) Contains(h uint64) bool { return r.Lo <= h && h <= r.Hi }

// NodeRange returns the range of node index at a level of the tree:
// level in [0, LeafLevel], index in [0, Fanout^level).
func NodeRange(level int, index uint64) Range {
	if level <= 0 {
		return Range{0, math.MaxUint64}
	}
	shift := 64 - 4*uint(level)
	lo := index << shift
	return Range{lo, lo | (1<<shift - 1)}
}

// node names one range of the tree.
type node struct {
	level uint8
	index uint64
}

func (n node) rng() Range { return NodeRange(int(n.level), n.index) }

func (n node) child(i int) node {
	return node{level: n.level + 1, index: n.index*Fanout + uint64(i)}
}

func (n node) String() string { return fmt.Sprintf("level %d node %d", n.level, n.index) }

func cloneItem(it Item) Item {
	it.Key = append([]byte(nil), it.Key...)
	return it
}

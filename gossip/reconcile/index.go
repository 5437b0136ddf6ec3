package reconcile

import (
	"fmt"

	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/internal/rangetree"
)

// The ranges a session compares are the nodes of the range tree defined
// by package rangetree: level 0 is the whole hash space, level L has
// rangetree.Fanout^L ranges, and rangetree.LeafLevel is the deepest level
// compared by summaries (2^16 ranges, kept in memory by the index); a
// differing leaf is resolved by an item list.

// Summary condenses the items of a range: their number and the sum of their
// fingerprints modulo 2^64. A range with Count 0 has Hash 0.
type Summary = rangetree.Summary

// Range is an inclusive range [Lo, Hi] of the hash space.
type Range = rangetree.Range

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
	// rangetree.LeafLevel (see rangetree.NodeRange), which an in-memory tree of range sums
	// answers without I/O; it must not block. Called only from the
	// goroutine driving the session.
	Summarize(lo, hi uint64) Summary
	// Items calls fn for each item with lo ≤ Hash ≤ hi, in ascending Hash
	// order (items of equal Hash in any order). It stops at, and returns,
	// the first error from fn. Item.Key is valid only during the call to
	// fn; the session copies what it keeps. It may read from disk.
	Items(lo, hi uint64, fn func(Item) error) error
}

// node names one range of the tree.
type node struct {
	level uint8
	index uint64
}

func (n node) rng() Range { return rangetree.NodeRange(int(n.level), n.index) }

func (n node) child(i int) node {
	return node{level: n.level + 1, index: n.index*rangetree.Fanout + uint64(i)}
}

func (n node) String() string { return fmt.Sprintf("level %d node %d", n.level, n.index) }

func cloneItem(it Item) Item {
	it.Key = append([]byte(nil), it.Key...)
	return it
}

package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/dgraph-io/badger/v4"

	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/internal/rangetree"
)

// Summary describes the items of a hash range: how many there are and the
// sum (mod 2^64) of their fingerprints. It is the range tree's summary.
type Summary = rangetree.Summary

// Item is one entry of the hash index: an item's placement hash, its
// fingerprint, and the type and key it stands for.
type Item struct {
	Hash        uint64    // PlacementHash(Type, Key)
	Fingerprint uint64    // ItemHash(Type, Key, crdt.Encode(state))
	Type        crdt.Type // type of the stored state
	Key         []byte    // the key; valid only during the callback
}

// treeDelta is one committed change to a namespace's tree.
type treeDelta struct {
	ns    string
	typ   crdt.Type // the item's type, for the namespace's count of that type
	hash  uint64
	count uint64 // +1, 0 or -1 (mod 2^64)
	sum   uint64 // fingerprint change (mod 2^64)
}

// nsType names the items of one type in one namespace.
type nsType struct {
	ns  string
	typ crdt.Type
}

// absentLocked reports whether the committed store surely holds no item of
// ns in the leaf range of placement hash h, so a point read can be skipped.
// The caller holds applyMu: the trees then reflect every commit exactly.
// A bootstrap arrives in hash order into empty leaves, so it skips almost
// every read.
func (db *DB) absentLocked(ns string, h uint64) bool {
	if db.skipIndex {
		return false // no trees kept: nothing is known
	}
	db.trees.RLock()
	defer db.trees.RUnlock()
	t := db.trees.byNS[ns]
	return t == nil || t.Leaf(rangetree.LeafOf(h)).Count == 0
}

// applyTreeLocked applies committed deltas; the caller holds trees' write lock.
func (db *DB) applyTreeLocked(d treeDelta) {
	t := db.trees.byNS[d.ns]
	if t == nil {
		t = rangetree.New()
		db.trees.byNS[d.ns] = t
	}
	t.Add(d.hash, Summary{Count: d.count, Hash: d.sum})
	if t.Total().Count == 0 {
		delete(db.trees.byNS, d.ns)
	}
	k := nsType{d.ns, d.typ}
	if n := db.trees.types[k] + d.count; n != 0 {
		db.trees.types[k] = n
	} else {
		delete(db.trees.types, k)
	}
}

// noneOf reports whether ns surely holds no item of type typ, so that a
// point read of one can be skipped. Every commit's items are counted
// before Apply returns, so a state whose write was acknowledged is never
// missed.
func (db *DB) noneOf(ns string, typ crdt.Type) bool {
	if db.skipIndex {
		return false // no counts kept: nothing is known
	}
	db.trees.RLock()
	defer db.trees.RUnlock()
	return db.trees.types[nsType{ns, typ}] == 0
}

// rebuildTrees builds every namespace's tree, and its count of each type,
// by one scan of the hash index.
func (db *DB) rebuildTrees() error {
	trees := make(map[string]*rangetree.Tree)
	types := make(map[nsType]uint64)
	err := db.bdb.View(func(txn *badger.Txn) error {
		io := badger.DefaultIteratorOptions
		io.PrefetchValues = false
		io.Prefix = []byte{tagHash}
		it := txn.NewIterator(io)
		defer it.Close()
		var lastNS []byte
		var cur *rangetree.Tree
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			ns, h, typ, _, ok := parseHashKey(item.Key())
			if !ok {
				return fmt.Errorf("%w: hash index key %q", ErrCorrupt, item.Key())
			}
			fp, err := fingerprintOf(item)
			if err != nil {
				return err
			}
			if cur == nil || !bytes.Equal(ns, lastNS) {
				lastNS = append(lastNS[:0], ns...)
				cur = trees[string(ns)]
				if cur == nil {
					cur = rangetree.New()
					trees[string(ns)] = cur
				}
			}
			cur.Add(h, Summary{Count: 1, Hash: fp})
			types[nsType{string(lastNS), typ}]++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("storage: rebuild index trees: %w", translate(err))
	}
	db.trees.Lock()
	db.trees.byNS, db.trees.types = trees, types
	db.trees.Unlock()
	return nil
}

func fingerprintOf(item *badger.Item) (uint64, error) {
	var fp uint64
	err := item.Value(func(v []byte) error {
		if len(v) != 8 {
			return fmt.Errorf("%w: fingerprint of %d bytes at %q", ErrCorrupt, len(v), item.Key())
		}
		fp = binary.BigEndian.Uint64(v)
		return nil
	})
	return fp, err
}

// Summarize returns the count and fingerprint sum of the items of ns whose
// placement hash is in [lo, hi] (inclusive). Leaf-aligned bounds (see
// rangetree.Range.LeafAligned; every node of the tree) are answered from the
// in-memory tree with no disk read; the unaligned ends of other ranges are
// read from the hash index (and, under concurrent writes, may reflect a
// commit the tree does not show yet). An empty range, an unknown or empty
// namespace or a closed store give the zero Summary; a disk error is
// logged and the range summarized as far as it could be read.
//
// Safe for concurrent use. It never waits for a commit's fsync: Apply
// holds the tree lock only to add a committed batch's changes.
func (db *DB) Summarize(ns string, lo, hi uint64) Summary {
	if lo > hi || db.enter() != nil {
		return Summary{}
	}
	defer db.leave()
	db.trees.RLock()
	defer db.trees.RUnlock()
	t := db.trees.byNS[ns]
	if t == nil {
		return Summary{}
	}
	a, b := rangetree.LeafOf(lo), rangetree.LeafOf(hi)
	first, last := rangetree.NodeRange(rangetree.LeafLevel, a), rangetree.NodeRange(rangetree.LeafLevel, b)
	var s Summary
	addDisk := func(lo, hi uint64) {
		if t.Leaf(rangetree.LeafOf(lo)).Count == 0 {
			return // empty leaf: nothing on disk either
		}
		d, err := db.summarizeDisk(ns, lo, hi)
		if err != nil {
			db.log.Error("storage: summarize from index failed", "ns", ns, "err", err)
		}
		s = s.Add(d)
	}
	if a == b && (lo != first.Lo || hi != last.Hi) {
		addDisk(lo, hi)
		return s
	}
	if lo != first.Lo {
		addDisk(lo, first.Hi)
		a++
	}
	if hi != last.Hi {
		addDisk(last.Lo, hi)
		b-- // b > a here, since a == b was handled above
	}
	if a <= b {
		s = s.Add(t.SumLeaves(a, b))
	}
	return s
}

func (db *DB) summarizeDisk(ns string, lo, hi uint64) (Summary, error) {
	var s Summary
	err := db.bdb.View(func(txn *badger.Txn) error {
		return walkIndex(txn, ns, lo, hi, func(it Item) error {
			s.Count++
			s.Hash += it.Fingerprint
			return nil
		})
	})
	return s, translate(err)
}

// walkIndex calls fn for each hash-index entry of ns in [lo, hi].
func walkIndex(txn *badger.Txn, ns string, lo, hi uint64, fn func(Item) error) error {
	io := badger.DefaultIteratorOptions
	io.PrefetchValues = false
	io.Prefix = nsPrefix(tagHash, ns)
	it := txn.NewIterator(io)
	defer it.Close()
	for it.Seek(hashSeek(ns, lo)); it.Valid(); it.Next() {
		item := it.Item()
		_, h, typ, key, ok := parseHashKey(item.Key())
		if !ok {
			return fmt.Errorf("%w: hash index key %q", ErrCorrupt, item.Key())
		}
		if h > hi {
			return nil
		}
		fp, err := fingerprintOf(item)
		if err != nil {
			return err
		}
		if err := fn(Item{Hash: h, Fingerprint: fp, Type: typ, Key: key}); err != nil {
			return err
		}
	}
	return nil
}

// Items calls fn for every item of ns with placement hash in [lo, hi], in
// ascending hash order (ties by type, then key), from the on-disk hash
// index on one consistent snapshot. It stops at, and returns, the first
// error fn returns. fn's Item.Key is valid only during the call. It blocks
// for the walk; safe for concurrent use, and fn may call other DB methods
// (but not Close).
func (db *DB) Items(ns string, lo, hi uint64, fn func(Item) error) error {
	return db.walk(ns, lo, hi, func(_ *badger.Txn, it Item) error { return fn(it) })
}

// States is Items with each item's stored state loaded from the same
// snapshot, for streaming a range whole. The state is owned by fn.
func (db *DB) States(ns string, lo, hi uint64, fn func(Item, crdt.State) error) error {
	return db.walk(ns, lo, hi, func(txn *badger.Txn, it Item) error {
		s, err := getState(txn, dataKey(ns, it.Type, it.Key), it.Type)
		if err == ErrNotFound {
			return fmt.Errorf("%w: index entry without state: %s %q", ErrCorrupt, it.Type, it.Key)
		}
		if err != nil {
			return err
		}
		return fn(it, s)
	})
}

// walk calls fn for every index item of ns in [lo, hi] on one snapshot.
func (db *DB) walk(ns string, lo, hi uint64, fn func(*badger.Txn, Item) error) error {
	if err := ValidNamespace(ns); err != nil {
		return err
	}
	if err := db.enter(); err != nil {
		return err
	}
	defer db.leave()
	if lo > hi {
		return nil
	}
	return translateWalk(db.bdb.View(func(txn *badger.Txn) error {
		return walkIndex(txn, ns, lo, hi, func(it Item) error { return fn(txn, it) })
	}))
}

// translateWalk translates Badger's errors but passes callback errors
// through unchanged.
func translateWalk(err error) error {
	if err == nil {
		return nil
	}
	if t := translate(err); t != err {
		return fmt.Errorf("storage: %w", t)
	}
	return err
}

// Namespaces returns the namespaces holding at least one item, sorted. It
// reads only memory; safe for concurrent use; the caller owns the slice.
func (db *DB) Namespaces() []string {
	if db.enter() != nil {
		return nil
	}
	defer db.leave()
	db.trees.RLock()
	defer db.trees.RUnlock()
	out := make([]string, 0, len(db.trees.byNS))
	for ns := range db.trees.byNS {
		out = append(out, ns)
	}
	slices.Sort(out)
	return out
}

package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/dgraph-io/badger/v4"

	"github.com/grapevine-kv/grapevine/crdt"
)

// Summary describes the items of a hash range: how many there are and the
// sum (mod 2^64) of their fingerprints. Equal summaries mean, with
// overwhelming probability, equal contents.
type Summary struct {
	Count uint64
	Hash  uint64
}

// Item is one entry of the hash index: an item's placement hash, its
// fingerprint, and the type and key it stands for.
type Item struct {
	Hash        uint64    // PlacementHash(Type, Key)
	Fingerprint uint64    // ItemHash(Type, Key, crdt.Encode(state))
	Type        crdt.Type // type of the stored state
	Key         []byte    // the key; valid only during the callback
}

// The range-sum tree is 16-ary over 2^16 leaf ranges: leaf i covers the
// placement hashes [i<<48, (i+1)<<48 - 1].
const (
	treeFanBits = 4
	treeDepth   = 4 // levels below the root
	leafBits    = treeFanBits * treeDepth
	leafShift   = 64 - leafBits
	leafMask    = 1<<leafShift - 1 // low bits of a hash within its leaf
)

// rangeTree holds the count and fingerprint sum of every node of a 16-ary
// tree: level 0 is the root, level treeDepth the 2^16 leaves. It is dense
// (about 1.1 MB per namespace) and freed when its namespace empties.
type rangeTree struct {
	levels [treeDepth + 1][]Summary
}

func newRangeTree() *rangeTree {
	t := &rangeTree{}
	for l := range t.levels {
		t.levels[l] = make([]Summary, 1<<(treeFanBits*l))
	}
	return t
}

// add adds count and sum (both mod 2^64, so negative deltas wrap) to the
// leaf holding hash h and to its ancestors.
func (t *rangeTree) add(h uint64, count, sum uint64) {
	leaf := h >> leafShift
	for l := treeDepth; l >= 0; l-- {
		n := &t.levels[l][leaf>>(treeFanBits*(treeDepth-l))]
		n.Count += count
		n.Hash += sum
	}
}

func (t *rangeTree) total() Summary { return t.levels[0][0] }

// sum returns the summary of leaves a..b inclusive, touching at most 15
// nodes per side per level.
func (t *rangeTree) sum(a, b uint64) Summary {
	var s Summary
	const fan = 1 << treeFanBits
	for l := treeDepth; l >= 0 && a <= b; l-- {
		lv := t.levels[l]
		for a <= b && a%fan != 0 {
			s.Count += lv[a].Count
			s.Hash += lv[a].Hash
			a++
		}
		for a <= b && b%fan != fan-1 {
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
		a, b = a/fan, b/fan
	}
	return s
}

// treeDelta is one committed change to a namespace's tree.
type treeDelta struct {
	ns    string
	hash  uint64
	count uint64 // +1, 0 or -1 (mod 2^64)
	sum   uint64 // fingerprint change (mod 2^64)
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
	return t == nil || t.levels[treeDepth][h>>leafShift].Count == 0
}

// applyTreeLocked applies committed deltas; the caller holds trees' write lock.
func (db *DB) applyTreeLocked(d treeDelta) {
	t := db.trees.byNS[d.ns]
	if t == nil {
		t = newRangeTree()
		db.trees.byNS[d.ns] = t
	}
	t.add(d.hash, d.count, d.sum)
	if t.total().Count == 0 {
		delete(db.trees.byNS, d.ns)
	}
}

// rebuildTrees builds every namespace's tree by one scan of the hash index.
func (db *DB) rebuildTrees() error {
	trees := make(map[string]*rangeTree)
	err := db.bdb.View(func(txn *badger.Txn) error {
		io := badger.DefaultIteratorOptions
		io.PrefetchValues = false
		io.Prefix = []byte{tagHash}
		it := txn.NewIterator(io)
		defer it.Close()
		var lastNS []byte
		var cur *rangeTree
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			ns, h, _, _, ok := parseHashKey(item.Key())
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
					cur = newRangeTree()
					trees[string(ns)] = cur
				}
			}
			cur.add(h, 1, fp)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("storage: rebuild index trees: %w", translate(err))
	}
	db.trees.Lock()
	db.trees.byNS = trees
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
// placement hash is in [lo, hi] (inclusive). Leaf-aligned bounds (lo a
// multiple of 2^48, hi one less than a multiple) are answered from the
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
	a, b := lo>>leafShift, hi>>leafShift
	var s Summary
	addDisk := func(lo, hi uint64) {
		if t.sum(lo>>leafShift, lo>>leafShift).Count == 0 {
			return // empty leaf: nothing on disk either
		}
		d, err := db.summarizeDisk(ns, lo, hi)
		if err != nil {
			db.log.Error("storage: summarize from index failed", "ns", ns, "err", err)
		}
		s.Count += d.Count
		s.Hash += d.Hash
	}
	if a == b && (lo&leafMask != 0 || hi&leafMask != leafMask) {
		addDisk(lo, hi)
		return s
	}
	if lo&leafMask != 0 {
		addDisk(lo, lo|leafMask)
		a++
	}
	if hi&leafMask != leafMask {
		addDisk(hi&^leafMask, hi)
		b-- // b > a here, since a == b was handled above
	}
	if a <= b {
		ts := t.sum(a, b)
		s.Count += ts.Count
		s.Hash += ts.Hash
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

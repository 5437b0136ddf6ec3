package storage

import (
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/grapevine-kv/grapevine/crdt"
)

// Counts is what one namespace holds.
type Counts struct {
	// ByType counts stored states by type; register tombstones are
	// counted under crdt.TypeRegister too.
	ByType map[crdt.Type]uint64
	// Tombstones counts register tombstones not yet purged.
	Tombstones uint64
	// Bytes is the approximate size of the stored states, keys and values
	// (Badger's estimate, read without fetching the values).
	Bytes uint64
}

// Count returns the Counts of every namespace holding at least one state,
// from one consistent snapshot. It reads keys only (the hash index, the
// states' keys for their sizes and the tombstone index, never a value out
// of the value log), so it costs one pass over those keys:
// callers that ask often should cache it. It blocks for the scan; safe for
// concurrent use.
func (db *DB) Count() (map[string]Counts, error) {
	if err := db.enter(); err != nil {
		return nil, err
	}
	defer db.leave()
	out := make(map[string]Counts)
	get := func(ns []byte) Counts {
		c, ok := out[string(ns)]
		if !ok {
			c = Counts{ByType: make(map[crdt.Type]uint64)}
		}
		return c
	}
	err := db.bdb.View(func(txn *badger.Txn) error {
		scan := func(tag byte, fn func(it *badger.Item) error) error {
			io := badger.DefaultIteratorOptions
			io.PrefetchValues = false
			io.Prefix = []byte{tag}
			it := txn.NewIterator(io)
			defer it.Close()
			for it.Rewind(); it.Valid(); it.Next() {
				if err := fn(it.Item()); err != nil {
					return err
				}
			}
			return nil
		}
		err := scan(tagHash, func(it *badger.Item) error {
			k := it.Key()
			ns, _, typ, _, ok := parseHashKey(k)
			if !ok {
				return fmt.Errorf("%w: hash index key %q", ErrCorrupt, k)
			}
			c := get(ns)
			c.ByType[typ]++
			out[string(ns)] = c
			return nil
		})
		if err != nil {
			return err
		}
		err = scan(tagData, func(it *badger.Item) error {
			ns, _, ok := splitNS(it.Key()[1:])
			if !ok {
				return fmt.Errorf("%w: data key %q", ErrCorrupt, it.Key())
			}
			c := get(ns)
			c.Bytes += uint64(it.EstimatedSize())
			out[string(ns)] = c
			return nil
		})
		if err != nil {
			return err
		}
		return scan(tagTomb, func(it *badger.Item) error {
			k := it.Key()
			_, ns, _, ok := parseTombKey(k)
			if !ok {
				return fmt.Errorf("%w: tombstone index key %q", ErrCorrupt, k)
			}
			c := get(ns)
			c.Tombstones++
			out[string(ns)] = c
			return nil
		})
	})
	if err := translateWalk(err); err != nil {
		return nil, err
	}
	return out, nil
}

package storage

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/grapevine-kv/grapevine/crdt"
)

// Get returns the stored state of (ns, typ, key), or ErrNotFound. A deleted
// register is returned as a crdt.Register with Deleted set (it is not
// ErrNotFound). It blocks on one point read; safe for concurrent use; the
// caller owns the returned state.
func (db *DB) Get(ns string, typ crdt.Type, key []byte) (crdt.State, error) {
	states, err := db.GetTypes(ns, key, typ)
	if err != nil {
		return nil, err
	}
	if states[0] == nil {
		return nil, ErrNotFound
	}
	return states[0], nil
}

// GetTypes returns the stored states of key in ns for each of types, in
// that order, from one read transaction: nil where a type has none. It is
// Get for several types at the cost of one snapshot (a RESP SET asks
// whether the name holds a counter or a set before every write). A type
// the namespace holds nothing of costs no read.
func (db *DB) GetTypes(ns string, key []byte, types ...crdt.Type) ([]crdt.State, error) {
	for _, typ := range types {
		if err := validRef(ns, typ, key); err != nil {
			return nil, err
		}
	}
	if err := db.enter(); err != nil {
		return nil, err
	}
	defer db.leave()
	out := make([]crdt.State, len(types))
	var txn *badger.Txn
	for i, typ := range types {
		if db.noneOf(ns, typ) {
			continue
		}
		if txn == nil {
			txn = db.bdb.NewTransaction(false)
			defer txn.Discard()
		}
		st, err := getState(txn, dataKey(ns, typ, key), typ)
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return nil, err
		default:
			out[i] = st
		}
	}
	return out, nil
}

func validRef(ns string, typ crdt.Type, key []byte) error {
	if err := ValidNamespace(ns); err != nil {
		return err
	}
	if err := validType(typ); err != nil {
		return err
	}
	return validKey(key)
}

// getState reads and decodes one data key; ErrNotFound if absent.
func getState(txn *badger.Txn, dk []byte, typ crdt.Type) (crdt.State, error) {
	item, err := txn.Get(dk)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("storage: read: %w", translate(err))
	}
	var s crdt.State
	err = item.Value(func(v []byte) error {
		s, err = decodeState(v, typ)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("storage: read %q: %w", dk, translate(err))
	}
	return s, nil
}

// decodeState decodes a stored state (copying it) and checks its type.
func decodeState(v []byte, typ crdt.Type) (crdt.State, error) {
	s, err := crdt.Decode(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if s.Type() != typ {
		return nil, fmt.Errorf("%w: %s stored under a %s key", ErrCorrupt, s.Type(), typ)
	}
	return s, nil
}

// Entry is one key and its state, as returned by List.
type Entry struct {
	Key   []byte
	State crdt.State
}

// ListOptions select what List returns.
type ListOptions struct {
	// Type is the type of states to list; 0 means crdt.TypeRegister.
	Type crdt.Type
	// Prefix restricts the listing to keys starting with it.
	Prefix []byte
	// After, when set, starts the listing strictly after this key: pass the
	// last key of the previous page to get the next one.
	After []byte
	// Limit is the most entries returned; 0 means no limit.
	Limit int
	// Tombstones includes deleted registers and values expired at
	// Config.Now (they count toward Limit).
	Tombstones bool
}

// List returns the entries of ns of one type whose keys start with
// opts.Prefix and sort after opts.After, in ascending key order, at most
// opts.Limit of them, from one consistent snapshot. Tombstones and expired
// values are skipped unless opts.Tombstones. A page shorter than Limit is the last. It blocks
// for the scan; safe for concurrent use; the caller owns the result.
func (db *DB) List(ns string, opts ListOptions) ([]Entry, error) {
	if err := ValidNamespace(ns); err != nil {
		return nil, err
	}
	typ := opts.Type
	if typ == 0 {
		typ = crdt.TypeRegister
	}
	if err := validType(typ); err != nil {
		return nil, err
	}
	if opts.Limit < 0 {
		return nil, fmt.Errorf("%w: negative limit %d", ErrInvalidArgument, opts.Limit)
	}
	if err := db.enter(); err != nil {
		return nil, err
	}
	defer db.leave()

	base := dataPrefix(ns, typ)
	prefix := append(base[:len(base):len(base)], opts.Prefix...)
	seek := prefix
	if opts.After != nil && bytes.Compare(opts.After, opts.Prefix) > 0 {
		seek = append(base[:len(base):len(base)], opts.After...)
	}
	var out []Entry
	now := db.now()
	err := db.bdb.View(func(txn *badger.Txn) error {
		io := badger.DefaultIteratorOptions
		io.Prefix = prefix
		if opts.Limit > 0 && opts.Limit < io.PrefetchSize {
			io.PrefetchSize = opts.Limit
		}
		it := txn.NewIterator(io)
		defer it.Close()
		for it.Seek(seek); it.Valid(); it.Next() {
			item := it.Item()
			key := item.Key()[len(base):]
			if opts.After != nil && bytes.Compare(key, opts.After) <= 0 {
				continue
			}
			var s crdt.State
			err := item.Value(func(v []byte) error {
				var err error
				s, err = decodeState(v, typ)
				return err
			})
			if err != nil {
				return fmt.Errorf("storage: list %q: %w", item.Key(), err)
			}
			if r, ok := s.(crdt.Register); ok && !r.Live(now) && !opts.Tombstones {
				continue
			}
			out = append(out, Entry{Key: bytes.Clone(key), State: s})
			if opts.Limit > 0 && len(out) == opts.Limit {
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return nil, translate(err)
	}
	return out, nil
}

package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/grapevine-kv/grapevine/crdt"
)

// Expiring is a register whose expiry fell in the range passed to Expiring.
type Expiring struct {
	Namespace string
	Key       []byte
	State     crdt.Register
}

// Expiring returns, in expiry order, the stored registers whose expiry
// stamp (crdt.Register.ExpiresAt) is in [from, to): the values that
// expired in that span, still stored until the purge reclaims them. It
// reads one snapshot of the time index; blocks for the scan; safe for
// concurrent use; the caller owns the result.
func (db *DB) Expiring(from, to crdt.Timestamp) ([]Expiring, error) {
	if err := db.enter(); err != nil {
		return nil, err
	}
	defer db.leave()
	var out []Expiring
	err := db.bdb.View(func(txn *badger.Txn) error {
		io := badger.DefaultIteratorOptions
		io.PrefetchValues = false
		io.Prefix = []byte{tagTomb}
		it := txn.NewIterator(io)
		defer it.Close()
		seek := binary.BigEndian.AppendUint64([]byte{tagTomb}, uint64(from))
		for it.Seek(seek); it.Valid(); it.Next() {
			tk := it.Item().Key()
			t, nsb, key, ok := parseTombKey(tk)
			if !ok {
				return fmt.Errorf("%w: time index key %q", ErrCorrupt, tk)
			}
			if t >= to {
				return nil
			}
			ns := string(nsb)
			s, err := getState(txn, dataKey(ns, crdt.TypeRegister, key), crdt.TypeRegister)
			if err == ErrNotFound {
				continue // stale entry
			}
			if err != nil {
				return err
			}
			if r, ok := s.(crdt.Register); ok && r.ExpiresAt() == t {
				out = append(out, Expiring{Namespace: ns, Key: bytes.Clone(key), State: r})
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("storage: expiring: %w", translate(err))
	}
	return out, nil
}

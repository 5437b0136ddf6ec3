package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// metaSyncedPrefix begins the meta entry of each namespace's synced mark:
// 'm' "synced" 0x00 ns → unix milliseconds, 8 bytes BE.
var metaSyncedPrefix = []byte{tagMeta, 's', 'y', 'n', 'c', 'e', 'd', nsDelim}

// SyncedMarks returns every namespace's synced mark, as last saved by
// SetSyncedMark (anti-entropy's record of when the namespace was last known
// to be up to date with the network; see package gossip). It reads the
// disk; safe for concurrent use; the caller owns the map.
func (db *DB) SyncedMarks() (map[string]time.Time, error) {
	if err := db.enter(); err != nil {
		return nil, err
	}
	defer db.leave()
	out := make(map[string]time.Time)
	err := db.bdb.View(func(txn *badger.Txn) error {
		io := badger.DefaultIteratorOptions
		io.Prefix = metaSyncedPrefix
		it := txn.NewIterator(io)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			ns := string(it.Item().Key()[len(metaSyncedPrefix):])
			err := it.Item().Value(func(v []byte) error {
				if len(v) != 8 {
					return fmt.Errorf("%w: synced mark of %q has %d bytes", ErrCorrupt, ns, len(v))
				}
				out[ns] = time.UnixMilli(int64(binary.BigEndian.Uint64(v)))
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("storage: read synced marks: %w", translate(err))
	}
	return out, nil
}

// SetSyncedMark durably records t (to the millisecond) as namespace ns's
// synced mark. It blocks for one small transaction, serialized with Apply;
// safe for concurrent use.
func (db *DB) SetSyncedMark(ns string, t time.Time) error {
	if err := ValidNamespace(ns); err != nil {
		return err
	}
	if err := db.enter(); err != nil {
		return err
	}
	defer db.leave()
	db.applyMu.Lock()
	defer db.applyMu.Unlock()
	key := append(append([]byte(nil), metaSyncedPrefix...), ns...)
	err := db.bdb.Update(func(txn *badger.Txn) error {
		return txn.Set(key, binary.BigEndian.AppendUint64(nil, uint64(t.UnixMilli())))
	})
	if err != nil {
		return fmt.Errorf("storage: save synced mark of %q: %w", ns, translate(err))
	}
	return nil
}

// DropStale removes from namespace ns each state of items (by Type and
// Key) whose stored fingerprint is still the item's Fingerprint, with its
// hash-index entry and its share of the range-sum tree; a state changed
// since is kept. It returns how many it removed. Anti-entropy uses it to
// forget states that a peer which is up to date no longer holds: they were
// deleted and their tombstones purged meanwhile (a tombstone's own entry
// in the age index, if any, goes with the next purge). It blocks for the
// removal, in transactions serialized with Apply; safe for concurrent use.
func (db *DB) DropStale(ns string, items []Item) (int, error) {
	if err := ValidNamespace(ns); err != nil {
		return 0, err
	}
	if err := db.enter(); err != nil {
		return 0, err
	}
	defer db.leave()
	dropped := 0
	for len(items) > 0 {
		chunk := items[:min(len(items), purgeChunk)]
		items = items[len(chunk):]
		n, err := db.dropChunk(ns, chunk)
		dropped += n
		if err != nil {
			return dropped, err
		}
	}
	return dropped, nil
}

func (db *DB) dropChunk(ns string, items []Item) (int, error) {
	db.applyMu.Lock()
	defer db.applyMu.Unlock()
	var groups []group
	err := db.bdb.View(func(txn *badger.Txn) error {
		for _, it := range items {
			h := PlacementHash(it.Type, it.Key)
			hk := hashKey(ns, h, it.Type, it.Key)
			item, err := txn.Get(hk)
			if errors.Is(err, badger.ErrKeyNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			var fp uint64
			if err := item.Value(func(v []byte) error {
				if len(v) != 8 {
					return fmt.Errorf("%w: hash index entry of %d bytes", ErrCorrupt, len(v))
				}
				fp = binary.BigEndian.Uint64(v)
				return nil
			}); err != nil {
				return err
			}
			if fp != it.Fingerprint {
				continue // changed since: keep it
			}
			groups = append(groups, group{op: len(groups),
				writes:  []write{{key: dataKey(ns, it.Type, it.Key), del: true}, {key: hk, del: true}},
				hasTree: true,
				tree:    treeDelta{ns: ns, typ: it.Type, hash: h, count: ^uint64(0), sum: -fp},
			})
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("storage: drop stale states: %w", translate(err))
	}
	done, err := db.commitGroups(nil, groups)
	return done, err
}

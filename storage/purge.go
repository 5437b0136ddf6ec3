package storage

import (
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/grapevine-kv/grapevine/crdt"
)

// purgeChunk is how many tombstones one purge transaction removes; Apply
// may run between chunks.
const purgeChunk = 1024

// PurgeTombstones removes every register tombstone whose Time, every
// expired register whose expiry, and every reset counter
// (crdt.Counter.IsReset) whose ResetTime is older than Config.Now() −
// Config.TombstoneGrace, each together with its hash-index
// entry and its contribution to the range-sum tree, and returns how many it
// removed. It also runs on the Config.PurgeInterval schedule. It blocks
// for the purge, in transactions of up to 1024 tombstones that are
// serialized with Apply; safe for concurrent use.
func (db *DB) PurgeTombstones() (int, error) {
	if err := db.enter(); err != nil {
		return 0, err
	}
	defer db.leave()
	horizon := crdt.NewTimestamp(db.opts.Now().Add(-db.opts.TombstoneGrace).UnixMilli(), 0)
	total := 0
	// Register tombstones, then reset counters (counter_reset.go).
	for _, purge := range []func(crdt.Timestamp) (int, bool, error){db.purgeChunk, db.purgeResetChunk} {
		for more := true; more; {
			if db.closing() {
				return total, ErrClosed
			}
			var n int
			var err error
			n, more, err = purge(horizon)
			total += n
			if err != nil {
				return total, err
			}
		}
	}
	return total, nil
}

// purgeChunk purges up to purgeChunk tombstones older than horizon. more
// reports whether older tombstones may remain.
func (db *DB) purgeChunk(horizon crdt.Timestamp) (purged int, more bool, err error) {
	db.applyMu.Lock()
	defer db.applyMu.Unlock()
	var groups []group
	err = db.bdb.View(func(txn *badger.Txn) error {
		io := badger.DefaultIteratorOptions
		io.PrefetchValues = false
		io.Prefix = []byte{tagTomb}
		it := txn.NewIterator(io)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if len(groups) == purgeChunk {
				more = true
				return nil
			}
			tk := it.Item().KeyCopy(nil)
			t, nsb, key, ok := parseTombKey(tk)
			if !ok {
				return fmt.Errorf("%w: tombstone index key %q", ErrCorrupt, tk)
			}
			if t >= horizon {
				return nil
			}
			g := group{op: len(groups), writes: []write{{key: tk, del: true}}}
			ns := string(nsb)
			dk := dataKey(ns, crdt.TypeRegister, key)
			s, err := getState(txn, dk, crdt.TypeRegister)
			if err != nil && err != ErrNotFound {
				return err
			}
			// Purge only if the stored state is still this tombstone (or
			// expired value); otherwise the index entry is stale and only
			// it goes.
			if r, ok := s.(crdt.Register); ok && purgeTime(r) == t {
				h := PlacementHash(crdt.TypeRegister, key)
				fp := ItemHash(crdt.TypeRegister, key, crdt.Encode(r))
				g.writes = append(g.writes, write{key: dk, del: true})
				if !db.skipIndex {
					g.writes = append(g.writes, write{key: hashKey(ns, h, crdt.TypeRegister, key), del: true})
					g.hasTree = true
					g.tree = treeDelta{ns: ns, hash: h, count: ^uint64(0), sum: -fp}
				}
			}
			groups = append(groups, g)
		}
		return nil
	})
	if err != nil {
		return 0, false, fmt.Errorf("storage: purge: %w", translate(err))
	}
	done, err := db.commitGroups(nil, groups)
	for _, g := range groups[:done] {
		if len(g.writes) > 1 { // the tombstone itself, not only a stale index entry
			purged++
		}
	}
	return purged, more && err == nil, err
}

// purgeTime is where register r sits in the time index ('t'), which purge
// walks in order: a tombstone at its Time, a value with an expiry at the
// stamp it expires (crdt.Register.ExpiresAt), anything else nowhere (0).
// An expired value is reclaimed like a tombstone, a grace after expiring.
func purgeTime(r crdt.Register) crdt.Timestamp {
	if r.Deleted {
		return r.Time
	}
	return r.ExpiresAt()
}

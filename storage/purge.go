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
	for _, idx := range []timeIndex{tombIndex, resetIndex} {
		for more := true; more; {
			if db.closing() {
				return total, ErrClosed
			}
			var n int
			var err error
			n, more, err = db.purgeChunk(idx, horizon)
			total += n
			if err != nil {
				return total, err
			}
		}
	}
	return total, nil
}

// A timeIndex lists states of one type by the time from which they may be
// purged (a grace later): tombstones and expired values, reset counters.
type timeIndex struct {
	tag   byte
	what  string // for errors: "tombstone", "reset"
	typ   crdt.Type
	parse func(k []byte) (t crdt.Timestamp, ns, key []byte, ok bool)
	// due reports whether the stored state s is still the one indexed at
	// t; otherwise the index entry is stale and only it goes.
	due func(s crdt.State, t crdt.Timestamp) bool
}

var tombIndex = timeIndex{tag: tagTomb, what: "tombstone", typ: crdt.TypeRegister, parse: parseTombKey,
	due: func(s crdt.State, t crdt.Timestamp) bool {
		r, ok := s.(crdt.Register)
		return ok && purgeTime(r) == t
	}}

// purgeChunk purges up to purgeChunk states of idx whose time is older
// than horizon. more reports whether older ones may remain.
func (db *DB) purgeChunk(idx timeIndex, horizon crdt.Timestamp) (purged int, more bool, err error) {
	db.applyMu.Lock()
	defer db.applyMu.Unlock()
	var groups []group
	err = db.bdb.View(func(txn *badger.Txn) error {
		io := badger.DefaultIteratorOptions
		io.PrefetchValues = false
		io.Prefix = []byte{idx.tag}
		it := txn.NewIterator(io)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if len(groups) == purgeChunk {
				more = true
				return nil
			}
			ik := it.Item().KeyCopy(nil)
			t, nsb, key, ok := idx.parse(ik)
			if !ok {
				return fmt.Errorf("%w: %s index key %q", ErrCorrupt, idx.what, ik)
			}
			if t >= horizon {
				return nil
			}
			g := group{op: len(groups), writes: []write{{key: ik, del: true}}}
			ns := string(nsb)
			dk := dataKey(ns, idx.typ, key)
			s, err := getState(txn, dk, idx.typ)
			if err != nil && err != ErrNotFound {
				return err
			}
			if err == nil && idx.due(s, t) {
				h := PlacementHash(idx.typ, key)
				fp := ItemHash(idx.typ, key, crdt.Encode(s))
				g.writes = append(g.writes, write{key: dk, del: true})
				if !db.skipIndex {
					g.writes = append(g.writes, write{key: hashKey(ns, h, idx.typ, key), del: true})
					g.hasTree = true
					g.tree = treeDelta{ns: ns, typ: idx.typ, hash: h, count: ^uint64(0), sum: -fp}
				}
			}
			groups = append(groups, g)
		}
		return nil
	})
	if err != nil {
		return 0, false, fmt.Errorf("storage: purge %ss: %w", idx.what, translate(err))
	}
	done, err := db.commitGroups(nil, groups)
	for _, g := range groups[:done] {
		if len(g.writes) > 1 { // the state itself, not only a stale index entry
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

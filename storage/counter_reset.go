package storage

import (
	"encoding/binary"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/grapevine-kv/grapevine/crdt"
)

// Reset counters are purged like tombstones. A counter whose slots all sit
// at their floors (crdt.Counter.IsReset) has an entry in the reset index,
// by its reset time:
//
//	resets 'R' hlc(8, BE) ns 0x00 key → empty
//
// and PurgeTombstones removes it, with its hash-index entry and its share
// of the range-sum tree, once that time is older than the grace.
const tagReset = 'R'

func resetKey(t crdt.Timestamp, ns string, key []byte) []byte {
	b := make([]byte, 0, 2+hashSize+len(ns)+len(key))
	b = append(b, tagReset)
	b = binary.BigEndian.AppendUint64(b, uint64(t))
	b = append(b, ns...)
	b = append(b, nsDelim)
	return append(b, key...)
}

// parseResetKey parses a reset-index key (the slices alias k).
func parseResetKey(k []byte) (t crdt.Timestamp, ns, key []byte, ok bool) {
	if len(k) < 1+hashSize || k[0] != tagReset {
		return 0, nil, nil, false
	}
	t = crdt.Timestamp(binary.BigEndian.Uint64(k[1:]))
	ns, key, ok = splitNS(k[1+hashSize:])
	return t, ns, key, ok && len(key) > 0
}

// appendResetIndex appends the reset-index writes for a state going from
// old to merged: the old entry goes, a new one comes if merged is reset.
func appendResetIndex(ws []write, ns string, key []byte, old, merged crdt.State) []write {
	if c, ok := old.(crdt.Counter); ok && c.IsReset() {
		ws = append(ws, write{key: resetKey(c.ResetTime(), ns, key), del: true})
	}
	if c, ok := merged.(crdt.Counter); ok && c.IsReset() {
		ws = append(ws, write{key: resetKey(c.ResetTime(), ns, key), val: []byte{}})
	}
	return ws
}

// purgeResetChunk purges up to purgeChunk reset counters whose reset time
// is older than horizon, as purgeChunk does tombstones.
func (db *DB) purgeResetChunk(horizon crdt.Timestamp) (purged int, more bool, err error) {
	db.applyMu.Lock()
	defer db.applyMu.Unlock()
	var groups []group
	err = db.bdb.View(func(txn *badger.Txn) error {
		io := badger.DefaultIteratorOptions
		io.PrefetchValues = false
		io.Prefix = []byte{tagReset}
		it := txn.NewIterator(io)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if len(groups) == purgeChunk {
				more = true
				return nil
			}
			rk := it.Item().KeyCopy(nil)
			t, nsb, key, ok := parseResetKey(rk)
			if !ok {
				return fmt.Errorf("%w: reset index key %q", ErrCorrupt, rk)
			}
			if t >= horizon {
				return nil
			}
			g := group{op: len(groups), writes: []write{{key: rk, del: true}}}
			ns := string(nsb)
			dk := dataKey(ns, crdt.TypeCounter, key)
			s, err := getState(txn, dk, crdt.TypeCounter)
			if err != nil && err != ErrNotFound {
				return err
			}
			// Purge only if the stored counter is still reset at t;
			// otherwise the index entry is stale and only it goes.
			if c, ok := s.(crdt.Counter); ok && c.IsReset() && c.ResetTime() == t {
				h := PlacementHash(crdt.TypeCounter, key)
				fp := ItemHash(crdt.TypeCounter, key, crdt.Encode(c))
				g.writes = append(g.writes, write{key: dk, del: true})
				if !db.skipIndex {
					g.writes = append(g.writes, write{key: hashKey(ns, h, crdt.TypeCounter, key), del: true})
					g.hasTree = true
					g.tree = treeDelta{ns: ns, hash: h, count: ^uint64(0), sum: -fp}
				}
			}
			groups = append(groups, g)
		}
		return nil
	})
	if err != nil {
		return 0, false, fmt.Errorf("storage: purge resets: %w", translate(err))
	}
	done, err := db.commitGroups(nil, groups)
	for _, g := range groups[:done] {
		if len(g.writes) > 1 {
			purged++
		}
	}
	return purged, more && err == nil, err
}

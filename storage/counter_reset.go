package storage

import (
	"encoding/binary"

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

var resetIndex = timeIndex{tag: tagReset, what: "reset", typ: crdt.TypeCounter, parse: parseResetKey,
	due: func(s crdt.State, t crdt.Timestamp) bool {
		c, ok := s.(crdt.Counter)
		return ok && c.IsReset() && c.ResetTime() == t
	}}

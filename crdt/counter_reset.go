package crdt

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"
)

// Reset is one resetter's record in a Counter (observed-reset): when it
// last reset the counter, and for each origin the slot it had seen then
// (its floor; Sig unused). A counter's value counts, per origin, only what
// lies above the greatest floor any resetter recorded for it, so a reset
// removes the increments its resetter had seen and keeps concurrent ones
// it had not.
//
// Only the resetter writes its own record, as only an origin writes its
// slot. Records merge per resetter: Time by max, each floor by the slot
// order of Merge ((P, N) lexicographically), so merge stays commutative,
// associative and idempotent.
type Reset struct {
	Time   Timestamp
	Floors map[ReplicaID]Slot
}

// NewCounterWithResets returns a counter holding slots (as NewCounter) and
// resets. Zero floors are dropped, and so is a reset left with none, so
// equal counters encode to identical bytes.
func NewCounterWithResets(slots map[ReplicaID]Slot, resets map[ReplicaID]Reset) Counter {
	c := NewCounter(slots)
	for id, r := range resets {
		c.resets = mergeResets(c.resets, map[ReplicaID]Reset{id: r})
	}
	return c
}

// Resetters returns the replicas that reset c, in ascending order.
func (c Counter) Resetters() []ReplicaID {
	ids := make([]ReplicaID, 0, len(c.resets))
	for id := range c.resets {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// ResetBy returns resetter id's record (zero if it never reset c); the
// caller must not modify its Floors.
func (c Counter) ResetBy(id ReplicaID) Reset { return c.resets[id] }

// Reset returns the delta by which replica id resets c at time at: every
// slot of c, and id's record with c's slots as floors. Merged anywhere, it
// takes the counter's value down by everything c counted; increments c had
// not seen still count. It is empty for a counter with no slot.
func (c Counter) Reset(id ReplicaID, at Timestamp) Counter {
	if len(c.slots) == 0 {
		return Counter{}
	}
	floors := make(map[ReplicaID]Slot, len(c.slots))
	for o, s := range c.slots {
		floors[o] = Slot{P: s.P, N: s.N}
	}
	d := NewCounter(c.slots)
	d.resets = mergeResets(nil, map[ReplicaID]Reset{id: {Time: max(at, c.resets[id].Time), Floors: floors}})
	return d
}

// IsReset reports whether c was reset and nothing has counted since: it
// has a reset and every slot sits at its floor. Such a counter reads 0 and
// is purged, like a tombstone, once ResetTime is older than the grace.
func (c Counter) IsReset() bool {
	if len(c.resets) == 0 {
		return false
	}
	for id, s := range c.slots {
		if f := c.floor(id); s.P != f.P || s.N != f.N {
			return false
		}
	}
	return true
}

// ResetTime returns the latest Time of c's resets (0 if none).
func (c Counter) ResetTime() Timestamp {
	var t Timestamp
	for _, r := range c.resets {
		t = max(t, r.Time)
	}
	return t
}

// floor returns origin id's floor: the componentwise max over resetters.
func (c Counter) floor(id ReplicaID) Slot {
	var f Slot
	for _, r := range c.resets {
		x := r.Floors[id]
		f.P, f.N = max(f.P, x.P), max(f.N, x.N)
	}
	return f
}

// sub0 returns a − b, or 0 if b > a (a floor above its slot, which only a
// hostile state holds, counts nothing).
func sub0(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}

func compareFloors(a, b Slot) int {
	if c := cmp.Compare(a.P, b.P); c != 0 {
		return c
	}
	return cmp.Compare(a.N, b.N)
}

// mergeResets returns a and b merged (neither is modified), dropping zero
// floors and resets without floors; nil if none remain.
func mergeResets(a, b map[ReplicaID]Reset) map[ReplicaID]Reset {
	if len(a) == 0 && len(b) == 0 {
		return nil
	}
	out := make(map[ReplicaID]Reset, len(a)+len(b))
	for _, src := range []map[ReplicaID]Reset{a, b} {
		for id, r := range src {
			m := out[id]
			if m.Floors == nil {
				m.Floors = make(map[ReplicaID]Slot, len(r.Floors))
			}
			m.Time = max(m.Time, r.Time)
			for o, f := range r.Floors {
				f.Sig = ""
				if compareFloors(f, m.Floors[o]) > 0 {
					m.Floors[o] = f
				}
			}
			out[id] = m
		}
	}
	for id, r := range out {
		if len(r.Floors) == 0 {
			delete(out, id)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// dominatesResets reports whether merging b into a would change nothing.
func dominatesResets(a, b map[ReplicaID]Reset) bool {
	for id, r := range b {
		m, ok := a[id]
		if !ok || r.Time > m.Time {
			return false
		}
		for o, f := range r.Floors {
			if compareFloors(f, m.Floors[o]) > 0 {
				return false
			}
		}
	}
	return true
}

// appendResets appends a counter's reset section (see AppendEncode):
// nothing for a counter never reset, else
//
//	uvarint(k) k × [uvarint(len resetter) resetter hlc(8, BE)
//	                uvarint(f) f × [uvarint(len origin) origin uvarint(P0) uvarint(N0)]]
//
// resetters and origins ascending, k and f at least 1, no zero floor.
func appendResets(b []byte, c Counter) []byte {
	if len(c.resets) == 0 {
		return b
	}
	b = binary.AppendUvarint(b, uint64(len(c.resets)))
	for _, id := range c.Resetters() {
		r := c.resets[id]
		b = appendBytes(b, []byte(id))
		b = binary.BigEndian.AppendUint64(b, uint64(r.Time))
		origins := make([]ReplicaID, 0, len(r.Floors))
		for o := range r.Floors {
			origins = append(origins, o)
		}
		slices.Sort(origins)
		b = binary.AppendUvarint(b, uint64(len(origins)))
		for _, o := range origins {
			f := r.Floors[o]
			b = appendBytes(b, []byte(o))
			b = binary.AppendUvarint(b, f.P)
			b = binary.AppendUvarint(b, f.N)
		}
	}
	return b
}

// decodeResets parses the reset section that follows a counter's slots
// (p may be empty: never reset), accepting only the canonical form.
func decodeResets(c Counter, p []byte) (State, error) {
	if len(p) == 0 {
		return c, nil
	}
	k, p, err := readUvarint(p)
	if err != nil {
		return nil, fmt.Errorf("counter resets: %w", err)
	}
	// Each reset takes at least 13 bytes, which bounds k by the input size.
	if k == 0 || k > MaxCounterSlots || k > uint64(len(p)/13) {
		return nil, malformed("counter claims %d resets in %d bytes", k, len(p))
	}
	c.resets = make(map[ReplicaID]Reset, k)
	var prev []byte
	for i := uint64(0); i < k; i++ {
		var id []byte
		if id, p, err = readBytes(p, MaxReplicaIDLen); err != nil {
			return nil, fmt.Errorf("counter reset %d: %w", i, err)
		}
		if i > 0 && string(id) <= string(prev) {
			return nil, malformed("counter resets out of order at %d", i)
		}
		prev = id
		if len(p) < 8 {
			return nil, malformed("counter reset %d is truncated", i)
		}
		r := Reset{Time: Timestamp(binary.BigEndian.Uint64(p))}
		var f uint64
		if f, p, err = readUvarint(p[8:]); err != nil {
			return nil, fmt.Errorf("counter reset %d: %w", i, err)
		}
		if f == 0 || f > MaxCounterSlots || f > uint64(len(p)/3) {
			return nil, malformed("counter reset %d claims %d floors in %d bytes", i, f, len(p))
		}
		r.Floors = make(map[ReplicaID]Slot, f)
		var prevOrigin []byte
		for j := uint64(0); j < f; j++ {
			var o []byte
			var s Slot
			if o, p, err = readBytes(p, MaxReplicaIDLen); err != nil {
				return nil, fmt.Errorf("counter reset %d floor %d: %w", i, j, err)
			}
			if j > 0 && string(o) <= string(prevOrigin) {
				return nil, malformed("counter reset %d floors out of order at %d", i, j)
			}
			prevOrigin = o
			if s.P, p, err = readUvarint(p); err != nil {
				return nil, fmt.Errorf("counter reset %d floor %d: %w", i, j, err)
			}
			if s.N, p, err = readUvarint(p); err != nil {
				return nil, fmt.Errorf("counter reset %d floor %d: %w", i, j, err)
			}
			if s.IsZero() {
				return nil, malformed("counter reset %d floor %d is zero", i, j)
			}
			r.Floors[ReplicaID(o)] = s
		}
		c.resets[ReplicaID(id)] = r
	}
	if len(p) != 0 {
		return nil, malformed("%d trailing bytes after counter", len(p))
	}
	return c, nil
}

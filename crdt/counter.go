package crdt

import (
	"cmp"
	"errors"
	"math"
	"slices"
)

// ErrOverflow is returned when an increment would overflow a counter.
var ErrOverflow = errors.New("crdt: counter overflow")

// Slot is one replica's share of a PN-counter: the sum of its increments
// (P) and of its decrements (N). Both only grow.
//
// Sig is the replica's signature over AppendSlotPayload (namespace, key,
// replica, P, N), or empty for an unsigned slot. It is a string, not a
// []byte, so that Slot stays comparable with ==. crdt neither makes nor
// checks it.
type Slot struct {
	P, N uint64
	Sig  string
}

// IsZero reports whether s counts nothing (P and N are 0, whatever Sig).
// Counters hold no zero slot.
func (s Slot) IsZero() bool { return s.P == 0 && s.N == 0 }

// compareSlots orders slots by (P, N, Sig) lexicographically: the unit
// order of Counter.Merge.
func compareSlots(a, b Slot) int {
	if c := cmp.Compare(a.P, b.P); c != 0 {
		return c
	}
	if c := cmp.Compare(a.N, b.N); c != 0 {
		return c
	}
	return cmp.Compare(a.Sig, b.Sig)
}

// Counter is a PN-counter: one Slot per replica that ever changed it. Its
// value is ΣP − ΣN. Merge keeps, per replica, the greater slot (see Merge),
// so re-delivered, duplicated or re-ordered deltas never count twice.
//
// The zero Counter is empty and ready to use. Counters are values: Merge
// and Increment return new counters and never modify their receiver.
type Counter struct {
	slots  map[ReplicaID]Slot
	resets map[ReplicaID]Reset // by resetter; see counter_reset.go
}

// Type reports TypeCounter.
func (Counter) Type() Type { return TypeCounter }

// NewCounter returns a counter holding the given slots. Zero slots
// (Slot.IsZero) are dropped: a replica that never changed the counter has no slot, so that
// equal counters always encode to identical bytes.
func NewCounter(slots map[ReplicaID]Slot) Counter {
	c := Counter{slots: make(map[ReplicaID]Slot, len(slots))}
	for id, s := range slots {
		if !s.IsZero() {
			c.slots[id] = s
		}
	}
	return c
}

// Slot returns the slot of replica id (zero if absent).
func (c Counter) Slot(id ReplicaID) Slot { return c.slots[id] }

// Len returns the number of slots.
func (c Counter) Len() int { return len(c.slots) }

// Replicas returns the replica IDs that have a slot, in ascending order.
func (c Counter) Replicas() []ReplicaID {
	ids := make([]ReplicaID, 0, len(c.slots))
	for id := range c.slots {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Value returns Σ(P − P0) − Σ(N − N0), where (P0, N0) is the slot's floor
// (see Reset; 0 for a counter never reset). The arithmetic wraps like
// int64 two's complement, which only matters past ±9.2e18.
func (c Counter) Value() int64 {
	var v uint64
	for id, s := range c.slots {
		f := c.floor(id)
		v += sub0(s.P, f.P) - sub0(s.N, f.N)
	}
	return int64(v)
}

// Merge returns c and o merged slot by slot: each replica's slot moves as
// a unit, the greater of the two by (P, N, Sig) lexicographically. Resets
// merge as Reset says.
//
// A slot is one replica's signed statement (P, N), so merge never combines
// two slots into a pair nobody signed (as a componentwise max would). For
// an honest replica P and N only grow, so the unit order picks the same
// slot as the componentwise max. The rule is one total order for signed
// and unsigned slots alike, which keeps merge commutative, associative and
// idempotent for any input, mixed ones included.
func (c Counter) Merge(o Counter) Counter {
	m := NewCounter(c.slots)
	for id, s := range o.slots {
		if compareSlots(s, m.slots[id]) > 0 {
			m.slots[id] = s
		}
	}
	m.resets = mergeResets(c.resets, o.resets)
	return m
}

// Dominates reports whether c already holds, for every slot and floor of
// o, that one or a greater one (in Merge's order), i.e. merging o into c
// would change nothing.
func (c Counter) Dominates(o Counter) bool {
	for id, s := range o.slots {
		if compareSlots(s, c.slots[id]) > 0 {
			return false
		}
	}
	return dominatesResets(c.resets, o.resets)
}

// Increment returns the delta that adds by (which may be negative) to the
// counter on behalf of replica id: a counter with id's slot only (empty if
// that slot is still zero, i.e. by is 0 and id never changed c). The
// delta's slot is unsigned (a signature over the old slot no longer
// applies); the caller signs it where the namespace wants it. Merging
// the delta into c yields the incremented counter. It returns ErrOverflow,
// and no delta, if id's slot or the counter's value would overflow.
func (c Counter) Increment(id ReplicaID, by int64) (Counter, error) {
	s := c.slots[id]
	s.Sig = ""
	switch {
	case by >= 0:
		if s.P > math.MaxUint64-uint64(by) {
			return Counter{}, ErrOverflow
		}
		s.P += uint64(by)
	default:
		mag := uint64(-(by + 1)) + 1 // |by| without overflowing MinInt64
		if s.N > math.MaxUint64-mag {
			return Counter{}, ErrOverflow
		}
		s.N += mag
	}
	v := c.Value()
	if (by > 0 && v > math.MaxInt64-by) || (by < 0 && v < math.MinInt64-by) {
		return Counter{}, ErrOverflow
	}
	if s.IsZero() {
		return Counter{}, nil
	}
	return Counter{slots: map[ReplicaID]Slot{id: s}}, nil
}

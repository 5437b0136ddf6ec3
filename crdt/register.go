package crdt

import (
	"bytes"
	"cmp"
)

// ReplicaID names the replica (peer) that made a write. It is compared as
// raw bytes; grapevine uses the libp2p peer ID.
type ReplicaID string

// Register is a last-writer-wins register. A delete is a tombstone: a
// Register with Deleted set and no value, which wins or loses like any write.
type Register struct {
	Time    Timestamp // hybrid logical clock stamp of the write
	Origin  ReplicaID // replica that made the write
	Deleted bool      // true for a tombstone
	Value   []byte    // nil for a tombstone
	// Expires is when a live value expires, in wall-clock milliseconds
	// since the Unix epoch on the HLC's wall part (Timestamp.Millis), or 0
	// for never. A tombstone has none (Encode drops it). See Expired.
	Expires int64
	// Sig is the origin's signature over AppendRegisterPayload (namespace,
	// key and everything above), or empty for an unsigned state. crdt
	// neither makes nor checks it (it has no keys): the caller signs and
	// verifies; Merge and Compare treat it as opaque bytes.
	Sig []byte
}

// Type reports TypeRegister.
func (Register) Type() Type { return TypeRegister }

// Compare orders registers totally: by Time, then Origin, then a tombstone
// before a live value, then by Value bytes, then by Sig bytes (so that two
// states of equal content but different signatures still order
// deterministically), with Expires compared just before Sig. It returns -1, 0 or +1. Two
// registers compare equal only if they are identical as stored and sent,
// i.e. only if they encode to the same bytes (a nil and an empty Value are
// the same; a tombstone's Value is ignored, as Encode drops it). That is
// what makes merge deterministic on every replica.
func (r Register) Compare(o Register) int { return compareRegisters(r, o) }

// lwwOrder is the register order described on Compare. compareRegisters
// (register_order.go) is it; the grapevine_broken_merge build tag replaces
// compareRegisters with a deliberately wrong order, as a negative control
// for the fault-injection suite (internal/chaos).
func lwwOrder(r, o Register) int {
	switch {
	case r.Time < o.Time:
		return -1
	case r.Time > o.Time:
		return 1
	}
	if c := cmp.Compare(string(r.Origin), string(o.Origin)); c != 0 {
		return c
	}
	switch {
	case r.Deleted && o.Deleted:
	case r.Deleted:
		return -1
	case o.Deleted:
		return 1
	default:
		if c := bytes.Compare(r.Value, o.Value); c != 0 {
			return c
		}
		if c := cmp.Compare(expiry(r), expiry(o)); c != 0 {
			return c
		}
	}
	return bytes.Compare(r.Sig, o.Sig)
}

// Merge returns the greater of r and o by Compare. It does not copy Value.
func (r Register) Merge(o Register) Register {
	if o.Compare(r) > 0 {
		return o
	}
	return r
}

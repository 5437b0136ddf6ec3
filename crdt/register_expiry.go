package crdt

import "encoding/binary"

// Expiry of registers (TTL). The expiry is part of the replicated state,
// so every replica that holds the same register agrees on it, and it is
// read against the HLC's wall part: a register is expired at every stamp
// whose Millis are at least its Expires. Replicas' clocks differ by at most
// the clock's maximum drift, which bounds how far apart two peers can see
// the same key expire. Merge and the register order ignore expiry except
// as a last tie-break: the winning write brings its own expiry, and a new
// write replaces (refreshes) it.

// Expired reports whether r is a live value that has expired at stamp at.
// A tombstone never expires (it is already absent).
func (r Register) Expired(at Timestamp) bool {
	return honoursExpiry() && !r.Deleted && r.Expires > 0 && at.Millis() >= r.Expires
}

// Live reports whether r holds a value at stamp at: not a tombstone and
// not expired.
func (r Register) Live(at Timestamp) bool { return !r.Deleted && !r.Expired(at) }

// ExpiresAt returns the stamp at which r expires (the first stamp of its
// Expires millisecond), or 0 if it never does.
func (r Register) ExpiresAt() Timestamp {
	if r.Deleted || r.Expires <= 0 {
		return 0
	}
	return NewTimestamp(r.Expires, 0)
}

// flagExpires in a register's flags byte says that an 8-byte big-endian
// expiry follows it (never on a tombstone). States without expiry keep the
// encoding and the signed payload they had before expiry existed.
const flagExpires = 2

// expiry is r's expiry as encoded and ordered: 0 for a tombstone or for no
// expiry (Expires <= 0), else Expires clamped to MaxMillis.
func expiry(r Register) int64 {
	if r.Deleted || r.Expires <= 0 {
		return 0
	}
	return min(r.Expires, MaxMillis)
}

// appendRegisterFlags appends r's flags byte and, if it has one, its
// expiry: the part of the register encoding and of the signed payload
// after the stamp.
func appendRegisterFlags(b []byte, r Register) []byte {
	var flags byte
	if r.Deleted {
		flags |= flagDeleted
	}
	exp := expiry(r)
	if exp > 0 {
		flags |= flagExpires
	}
	b = append(b, flags)
	if exp > 0 {
		b = binary.BigEndian.AppendUint64(b, uint64(exp))
	}
	return b
}

// readRegisterFlags parses what appendRegisterFlags wrote into r and
// returns the rest of p. It accepts only canonical input.
func readRegisterFlags(p []byte, r *Register) ([]byte, error) {
	if len(p) < 1 {
		return nil, malformed("register without flags")
	}
	flags := p[0]
	if flags&^(flagDeleted|flagExpires) != 0 {
		return nil, malformed("unknown register flags %#x", flags)
	}
	r.Deleted = flags&flagDeleted != 0
	p = p[1:]
	if flags&flagExpires == 0 {
		return p, nil
	}
	if r.Deleted {
		return nil, malformed("tombstone with an expiry")
	}
	if len(p) < 8 {
		return nil, malformed("register expiry of %d bytes", len(p))
	}
	exp := binary.BigEndian.Uint64(p)
	if exp == 0 || exp > MaxMillis {
		return nil, malformed("register expiry %d not in 1..%d", exp, uint64(MaxMillis))
	}
	r.Expires = int64(exp)
	return p[8:], nil
}

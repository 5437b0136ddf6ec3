package crdt

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Type tags a replicated state; it is stored and sent with every encoding.
type Type uint8

// The replicated types. Values are part of the wire and disk format.
const (
	TypeRegister Type = 1 // last-writer-wins register (Register)
	TypeCounter  Type = 2 // PN-counter (Counter)
	TypeSet      Type = 3 // add-wins observed-remove set (Set)
)

// String returns "register", "counter", "set" or "type(N)".
func (t Type) String() string {
	switch t {
	case TypeRegister:
		return "register"
	case TypeCounter:
		return "counter"
	case TypeSet:
		return "set"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// State is a replicated value: a Register, a Counter or a Set. A delta is a State
// too; merging it into the stored state is the only way state changes.
type State interface {
	Type() Type
}

// Errors returned by Merge and Decode.
var (
	ErrTypeMismatch = errors.New("crdt: cannot merge states of different types")
	ErrMalformed    = errors.New("crdt: malformed encoding")
)

// Merge merges delta into stored; either may be nil for "nothing". It
// reports whether the result differs from stored. Merging states of
// different types returns ErrTypeMismatch, and a state that is neither a
// Register nor a Counter an error; both leave stored as it was.
func Merge(stored, delta State) (merged State, changed bool, err error) {
	if delta == nil {
		return stored, false, nil
	}
	if stored == nil {
		switch delta.(type) {
		case Register, Counter, Set:
			return delta, true, nil
		}
		return nil, false, fmt.Errorf("crdt: unknown state %T", delta)
	}
	switch s := stored.(type) {
	case Register:
		d, ok := delta.(Register)
		if !ok {
			return stored, false, ErrTypeMismatch
		}
		if d.Compare(s) > 0 {
			return d, true, nil
		}
		return s, false, nil
	case Counter:
		d, ok := delta.(Counter)
		if !ok {
			return stored, false, ErrTypeMismatch
		}
		if s.Dominates(d) {
			return s, false, nil
		}
		return s.Merge(d), true, nil
	case Set:
		d, ok := delta.(Set)
		if !ok {
			return stored, false, ErrTypeMismatch
		}
		return mergeSets(s, d)
	}
	return stored, false, fmt.Errorf("crdt: unknown state %T", stored)
}

// Encoding versions: the first byte of every encoded state. Version 1 is
// the unsigned encoding, unchanged since before signatures existed, so
// states stored then still decode and unsigned states keep their bytes
// (and fingerprints). Version 2 adds signatures.
const (
	encodingUnsigned = 1
	encodingSigned   = 2
)

// Limits enforced by Decode, so hostile input cannot make it allocate much.
const (
	MaxReplicaIDLen = 256     // bytes in a ReplicaID
	MaxCounterSlots = 1 << 16 // slots in one Counter
	MaxSignatureLen = 128     // bytes in a Register's or Slot's Sig (Ed25519 needs 64)
)

const flagDeleted = 1

// AppendEncode appends the canonical binary encoding of s to b:
//
//	version(1) type(1) payload
//
// Version 1 (no signature anywhere in s):
//
//	register payload: hlc(8, big endian) flags(1) [expires(8)] uvarint(len origin) origin value...
//	counter payload:  uvarint(n) n × [uvarint(len origin) origin uvarint(P) uvarint(N)]
//
// Version 2 (a Register with a Sig, or a Counter with at least one signed
// slot):
//
//	register payload: hlc(8, big endian) flags(1) [expires(8)] uvarint(len origin) origin uvarint(len sig) sig value...
//	counter payload:  uvarint(n) n × [uvarint(len origin) origin uvarint(P) uvarint(N) uvarint(len sig) sig]
//
// A counter that was reset appends its resets after the slots (see
// appendResets); a set (version 1 only: sets are never signed) has the
// payload of appendSet.
//
// flags is 1 for a tombstone (which has no value bytes), 2 for a live
// value with an expiry (Register.Expires, big endian milliseconds, which
// follows the flags), else 0; a register without expiry encodes as it did
// before expiry existed. Counter
// slots are in ascending origin order, none zero; in version 2 an unsigned
// slot has a sig of length 0. Equal states always encode to identical
// bytes, and Encode picks version 1 whenever it can.
func AppendEncode(b []byte, s State) []byte {
	signed := isSigned(s)
	version := byte(encodingUnsigned)
	if signed {
		version = encodingSigned
	}
	b = append(b, version, byte(s.Type()))
	switch s := s.(type) {
	case Register:
		b = binary.BigEndian.AppendUint64(b, uint64(s.Time))
		b = appendRegisterFlags(b, s)
		b = appendBytes(b, []byte(s.Origin))
		if signed {
			b = appendBytes(b, s.Sig)
		}
		if !s.Deleted {
			b = append(b, s.Value...)
		}
	case Counter:
		b = binary.AppendUvarint(b, uint64(len(s.slots)))
		for _, id := range s.Replicas() {
			slot := s.slots[id]
			b = appendBytes(b, []byte(id))
			b = binary.AppendUvarint(b, slot.P)
			b = binary.AppendUvarint(b, slot.N)
			if signed {
				b = binary.AppendUvarint(b, uint64(len(slot.Sig)))
				b = append(b, slot.Sig...)
			}
		}
		b = appendResets(b, s)
	case Set:
		b = appendSet(b, s)
	}
	return b
}

// isSigned reports whether s carries a signature (and so encodes as
// version 2).
func isSigned(s State) bool {
	switch s := s.(type) {
	case Register:
		return len(s.Sig) > 0
	case Counter:
		for _, slot := range s.slots {
			if slot.Sig != "" {
				return true
			}
		}
	}
	return false
}

// Encode returns the canonical binary encoding of s.
func Encode(s State) []byte { return AppendEncode(nil, s) }

// Decode parses an encoding made by Encode, of either version. It accepts
// only canonical encodings (so Encode(Decode(b)) == b: a version 2 state
// must carry a signature, a signature at most MaxSignatureLen bytes) and
// returns an error wrapping ErrMalformed for anything else. The result
// does not alias b.
func Decode(b []byte) (State, error) {
	if len(b) < 2 {
		return nil, malformed("%d bytes is too short", len(b))
	}
	if b[0] != encodingUnsigned && b[0] != encodingSigned {
		return nil, malformed("unknown encoding version %d", b[0])
	}
	signed := b[0] == encodingSigned
	t, p := Type(b[1]), b[2:]
	switch t {
	case TypeRegister:
		return decodeRegister(p, signed)
	case TypeCounter:
		return decodeCounter(p, signed)
	case TypeSet:
		return decodeSet(p, signed)
	}
	return nil, malformed("unknown type %d", b[1])
}

func decodeRegister(p []byte, signed bool) (State, error) {
	if len(p) < 9 {
		return nil, malformed("register of %d bytes is too short", len(p))
	}
	r := Register{Time: Timestamp(binary.BigEndian.Uint64(p))}
	p, err := readRegisterFlags(p[8:], &r)
	if err != nil {
		return nil, err
	}
	origin, rest, err := readBytes(p, MaxReplicaIDLen)
	if err != nil {
		return nil, fmt.Errorf("register origin: %w", err)
	}
	r.Origin = ReplicaID(origin)
	if signed {
		var sig []byte
		if sig, rest, err = readBytes(rest, MaxSignatureLen); err != nil {
			return nil, fmt.Errorf("register signature: %w", err)
		}
		if len(sig) == 0 {
			return nil, malformed("signed register without a signature")
		}
		r.Sig = append([]byte{}, sig...)
	}
	if r.Deleted {
		if len(rest) != 0 {
			return nil, malformed("tombstone carries %d bytes of value", len(rest))
		}
		return r, nil
	}
	r.Value = append([]byte{}, rest...)
	return r, nil
}

func decodeCounter(p []byte, signed bool) (State, error) {
	n, p, err := readUvarint(p)
	if err != nil {
		return nil, fmt.Errorf("counter length: %w", err)
	}
	// Each slot takes at least 3 bytes, which bounds n by the input size.
	if n > MaxCounterSlots || n > uint64(len(p)/3) {
		return nil, malformed("counter claims %d slots in %d bytes", n, len(p))
	}
	c := Counter{slots: make(map[ReplicaID]Slot, n)}
	var prev []byte
	anySig := false
	for i := uint64(0); i < n; i++ {
		var id []byte
		var s Slot
		if id, p, err = readBytes(p, MaxReplicaIDLen); err != nil {
			return nil, fmt.Errorf("counter slot %d: %w", i, err)
		}
		if i > 0 && string(id) <= string(prev) {
			return nil, malformed("counter slots out of order at %d", i)
		}
		prev = id
		if s.P, p, err = readUvarint(p); err != nil {
			return nil, fmt.Errorf("counter slot %d: %w", i, err)
		}
		if s.N, p, err = readUvarint(p); err != nil {
			return nil, fmt.Errorf("counter slot %d: %w", i, err)
		}
		if s.IsZero() {
			return nil, malformed("counter slot %d is zero", i)
		}
		if signed {
			var sig []byte
			if sig, p, err = readBytes(p, MaxSignatureLen); err != nil {
				return nil, fmt.Errorf("counter slot %d signature: %w", i, err)
			}
			s.Sig = string(sig)
			anySig = anySig || len(sig) > 0
		}
		c.slots[ReplicaID(id)] = s
	}
	if signed && !anySig {
		return nil, malformed("signed counter without a signature")
	}
	return decodeResets(c, p)
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

func appendBytes(b, p []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(p)))
	return append(b, p...)
}

// readUvarint reads a minimally encoded uvarint.
func readUvarint(p []byte) (uint64, []byte, error) {
	v, n := binary.Uvarint(p)
	if n <= 0 {
		return 0, nil, malformed("bad varint")
	}
	if n != uvarintLen(v) {
		return 0, nil, malformed("non-minimal varint")
	}
	return v, p[n:], nil
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// readBytes reads a uvarint length prefix and that many bytes (at most max).
func readBytes(p []byte, max int) ([]byte, []byte, error) {
	n, p, err := readUvarint(p)
	if err != nil {
		return nil, nil, err
	}
	if n > uint64(max) || n > uint64(len(p)) {
		return nil, nil, malformed("length %d exceeds limit or input", n)
	}
	return p[:n], p[n:], nil
}

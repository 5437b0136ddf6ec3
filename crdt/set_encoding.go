package crdt

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// MaxSetReplicas bounds the replicas a Set's context names, as
// MaxCounterSlots bounds a Counter's slots.
const MaxSetReplicas = MaxCounterSlots

// appendSet appends a set's payload (see AppendEncode):
//
//	uvarint(r) r × [uvarint(len origin) origin uvarint(vv)]           replicas, ascending
//	uvarint(c) c × [uvarint(replica index) uvarint(counter)]          cloud dots, ascending
//	uvarint(m) m × [uvarint(len member) member uvarint(d) d × dot]    members, ascending
//
// where a dot is uvarint(replica index) uvarint(counter), a member's dots
// ascending. The replica table lists exactly the replicas the context
// names (vv 0 for one only in the cloud); the context is compacted (no
// cloud dot at or right after its replica's vv).
func appendSet(b []byte, s Set) []byte {
	ids := s.replicas()
	b = binary.AppendUvarint(b, uint64(len(ids)))
	for _, id := range ids {
		b = appendBytes(b, []byte(id))
		b = binary.AppendUvarint(b, s.vv[id])
	}
	appendDot := func(b []byte, d Dot) []byte {
		i, _ := slices.BinarySearch(ids, d.Origin)
		b = binary.AppendUvarint(b, uint64(i))
		return binary.AppendUvarint(b, d.Counter)
	}
	b = binary.AppendUvarint(b, uint64(len(s.cloud)))
	for _, d := range s.cloudDots() {
		b = appendDot(b, d)
	}
	members := s.Members()
	b = binary.AppendUvarint(b, uint64(len(members)))
	for _, m := range members {
		b = appendBytes(b, m)
		dots := sortedDots(s.members[string(m)])
		b = binary.AppendUvarint(b, uint64(len(dots)))
		for _, d := range dots {
			b = appendDot(b, d)
		}
	}
	return b
}

// decodeSet parses a set's payload, accepting only the canonical form.
func decodeSet(p []byte, signed bool) (State, error) {
	if signed {
		return nil, malformed("a set cannot be signed")
	}
	n, p, err := readUvarint(p)
	if err != nil {
		return nil, fmt.Errorf("set replicas: %w", err)
	}
	// Each entry takes at least 2 bytes, which bounds counts by the input.
	if n > MaxSetReplicas || n > uint64(len(p)/2) {
		return nil, malformed("set claims %d replicas in %d bytes", n, len(p))
	}
	s := Set{}
	ids := make([]ReplicaID, 0, n)
	for i := uint64(0); i < n; i++ {
		var id []byte
		var vv uint64
		if id, p, err = readBytes(p, MaxReplicaIDLen); err != nil {
			return nil, fmt.Errorf("set replica %d: %w", i, err)
		}
		if i > 0 && string(id) <= string(ids[i-1]) {
			return nil, malformed("set replicas out of order at %d", i)
		}
		if vv, p, err = readUvarint(p); err != nil {
			return nil, fmt.Errorf("set replica %d: %w", i, err)
		}
		ids = append(ids, ReplicaID(id))
		s.setVV(ReplicaID(id), vv)
	}
	readDot := func(p []byte) (Dot, []byte, error) {
		i, p, err := readUvarint(p)
		if err != nil {
			return Dot{}, nil, err
		}
		if i >= uint64(len(ids)) {
			return Dot{}, nil, malformed("dot names replica %d of %d", i, len(ids))
		}
		c, p, err := readUvarint(p)
		if err != nil {
			return Dot{}, nil, err
		}
		if c == 0 {
			return Dot{}, nil, malformed("dot counter 0")
		}
		return Dot{Origin: ids[i], Counter: c}, p, nil
	}
	if n, p, err = readUvarint(p); err != nil {
		return nil, fmt.Errorf("set cloud: %w", err)
	}
	if n > uint64(len(p)/2) {
		return nil, malformed("set claims %d cloud dots in %d bytes", n, len(p))
	}
	var prev Dot
	inCloud := make(map[ReplicaID]bool)
	for i := uint64(0); i < n; i++ {
		var d Dot
		if d, p, err = readDot(p); err != nil {
			return nil, fmt.Errorf("set cloud dot %d: %w", i, err)
		}
		if i > 0 && compareDots(prev, d) >= 0 {
			return nil, malformed("set cloud out of order at %d", i)
		}
		if d.Counter <= s.vv[d.Origin]+1 {
			return nil, malformed("set cloud dot %d is not compacted", i)
		}
		prev = d
		s.addDot(d)
		inCloud[d.Origin] = true
	}
	for _, id := range ids {
		if s.vv[id] == 0 && !inCloud[id] {
			return nil, malformed("set names replica %q with no dot", id)
		}
	}
	if n, p, err = readUvarint(p); err != nil {
		return nil, fmt.Errorf("set members: %w", err)
	}
	if n > uint64(len(p)/4) {
		return nil, malformed("set claims %d members in %d bytes", n, len(p))
	}
	var prevMember []byte
	for i := uint64(0); i < n; i++ {
		var m []byte
		if m, p, err = readBytes(p, MaxMemberLen); err != nil {
			return nil, fmt.Errorf("set member %d: %w", i, err)
		}
		if len(m) == 0 {
			return nil, malformed("set member %d is empty", i)
		}
		if i > 0 && string(m) <= string(prevMember) {
			return nil, malformed("set members out of order at %d", i)
		}
		prevMember = m
		var k uint64
		if k, p, err = readUvarint(p); err != nil {
			return nil, fmt.Errorf("set member %d: %w", i, err)
		}
		if k == 0 || k > uint64(len(p)/2) {
			return nil, malformed("set member %d claims %d dots in %d bytes", i, k, len(p))
		}
		for j := uint64(0); j < k; j++ {
			var d Dot
			if d, p, err = readDot(p); err != nil {
				return nil, fmt.Errorf("set member %d dot %d: %w", i, j, err)
			}
			if j > 0 && compareDots(prev, d) >= 0 {
				return nil, malformed("set member %d dots out of order at %d", i, j)
			}
			if !s.seen(d) {
				return nil, malformed("set member %d has a dot outside the context", i)
			}
			prev = d
			s.setMember(string(m), d)
		}
	}
	if len(p) != 0 {
		return nil, malformed("%d trailing bytes after set", len(p))
	}
	return s, nil
}

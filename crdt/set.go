package crdt

import (
	"bytes"
	"cmp"
	"errors"
	"slices"
)

// MaxMemberLen is the longest set member, in bytes.
const MaxMemberLen = 4096

// ErrMemberTooLarge is returned by Set.Add for a member longer than
// MaxMemberLen, and by both Add and Remove for an empty member.
var ErrMemberTooLarge = errors.New("crdt: set member empty or too large")

// Dot names one add: the Counter-th event of replica Origin. Every add of
// a set gets a dot no other add of that set has.
type Dot struct {
	Origin  ReplicaID
	Counter uint64 // from 1
}

func compareDots(a, b Dot) int {
	if c := cmp.Compare(a.Origin, b.Origin); c != 0 {
		return c
	}
	return cmp.Compare(a.Counter, b.Counter)
}

// Set is an add-wins observed-remove set (an OR-set) in the delta-state
// form of Almeida, Shoker and Baquero, "Delta State Replicated Data Types"
// (2018). It holds, for each member, the dots of the adds that put it
// there, and a causal context: every dot the state has seen, as a version
// vector (all dots of a replica up to a counter) plus a cloud of dots past
// the vector's gaps. Merge keeps a member's dot if both sides hold it, or
// if one side holds it and the other has not seen it; a dot one side has
// seen but dropped was removed. So a remove needs no tombstone per member,
// only the context, and an add concurrent with a remove of the same member
// survives: the remove never saw the add's dot.
//
// The zero Set is empty and ready to use. Sets are values: Merge, Add and
// Remove return new sets and never modify their receiver.
type Set struct {
	vv      map[ReplicaID]uint64
	cloud   map[Dot]struct{}
	members map[string]map[Dot]struct{}
}

// Type reports TypeSet.
func (Set) Type() Type { return TypeSet }

// seen reports whether the causal context holds d.
func (s Set) seen(d Dot) bool {
	if d.Counter <= s.vv[d.Origin] {
		return true
	}
	_, ok := s.cloud[d]
	return ok
}

// Len returns the number of members.
func (s Set) Len() int { return len(s.members) }

// Contains reports whether m is a member.
func (s Set) Contains(m []byte) bool {
	_, ok := s.members[string(m)]
	return ok
}

// Members returns the members in ascending byte order; the caller owns
// them.
func (s Set) Members() [][]byte {
	out := make([][]byte, 0, len(s.members))
	for m := range s.members {
		out = append(out, []byte(m))
	}
	slices.SortFunc(out, bytes.Compare)
	return out
}

// next returns replica id's next unused dot counter.
func (s Set) next(id ReplicaID) uint64 {
	n := s.vv[id]
	for d := range s.cloud {
		if d.Origin == id {
			n = max(n, d.Counter)
		}
	}
	return n + 1
}

// Add returns the delta that adds members on behalf of replica id: each
// member gets a fresh dot of id, and the delta's context also covers the
// member's current dots, which the add replaces. Merging the delta into s
// yields s with the members added. Members must be 1 to MaxMemberLen bytes
// (else ErrMemberTooLarge, and no delta).
func (s Set) Add(id ReplicaID, members ...[]byte) (Set, error) {
	d := Set{}
	next := s.next(id)
	for _, m := range members {
		if len(m) == 0 || len(m) > MaxMemberLen {
			return Set{}, ErrMemberTooLarge
		}
		if d.members[string(m)] != nil {
			continue // a member named twice gets one dot
		}
		dot := Dot{Origin: id, Counter: next}
		next++
		d.addDot(dot)
		d.setMember(string(m), dot)
		for old := range s.members[string(m)] {
			d.addDot(old)
		}
	}
	return d.compact(), nil
}

// Remove returns the delta that removes members: an empty dot store whose
// context is the members' current dots. Merging it removes the adds s has
// seen; adds s has not seen (concurrent ones) survive it. Removing a
// non-member yields an empty delta, which changes nothing.
func (s Set) Remove(members ...[]byte) (Set, error) {
	d := Set{}
	for _, m := range members {
		if len(m) == 0 || len(m) > MaxMemberLen {
			return Set{}, ErrMemberTooLarge
		}
		removeDots(&d, s.members[string(m)])
	}
	return d.compact(), nil
}

// Empty reports whether s has neither members nor context: merging it
// changes nothing.
func (s Set) Empty() bool { return len(s.members) == 0 && len(s.vv) == 0 && len(s.cloud) == 0 }

// Merge returns the join of s and o: contexts united, and a member's dot
// kept if both hold it or if the side lacking it has not seen it.
func (s Set) Merge(o Set) Set {
	m := Set{}
	for id, n := range s.vv {
		m.setVV(id, n)
	}
	for id, n := range o.vv {
		m.setVV(id, max(n, m.vv[id]))
	}
	for d := range s.cloud {
		m.addDot(d)
	}
	for d := range o.cloud {
		m.addDot(d)
	}
	keep := func(mine, theirs map[Dot]struct{}, other Set, member string) {
		for d := range mine {
			if _, both := theirs[d]; both || !other.seen(d) {
				m.setMember(member, d)
			}
		}
	}
	for member, dots := range s.members {
		keep(dots, o.members[member], o, member)
	}
	for member, dots := range o.members {
		keep(dots, s.members[member], s, member)
	}
	return m.compact()
}

func (s *Set) setVV(id ReplicaID, n uint64) {
	if n == 0 {
		return
	}
	if s.vv == nil {
		s.vv = make(map[ReplicaID]uint64)
	}
	s.vv[id] = n
}

// addDot adds d to the context (to the cloud; compact folds it into the
// vector).
func (s *Set) addDot(d Dot) {
	if d.Counter <= s.vv[d.Origin] {
		return
	}
	if s.cloud == nil {
		s.cloud = make(map[Dot]struct{})
	}
	s.cloud[d] = struct{}{}
}

func (s *Set) setMember(m string, d Dot) {
	if s.members == nil {
		s.members = make(map[string]map[Dot]struct{})
	}
	if s.members[m] == nil {
		s.members[m] = make(map[Dot]struct{})
	}
	s.members[m][d] = struct{}{}
}

// compact folds cloud dots that extend the version vector into it and
// drops those it already covers, so equal contexts have one form.
func (s Set) compact() Set {
	if len(s.cloud) == 0 {
		return s
	}
	dots := s.cloudDots()
	for _, d := range dots {
		switch n := s.vv[d.Origin]; {
		case d.Counter <= n:
			delete(s.cloud, d)
		case d.Counter == n+1:
			s.setVV(d.Origin, d.Counter)
			delete(s.cloud, d)
		}
	}
	if len(s.cloud) == 0 {
		s.cloud = nil
	}
	return s
}

// cloudDots returns the cloud in ascending order.
func (s Set) cloudDots() []Dot {
	out := make([]Dot, 0, len(s.cloud))
	for d := range s.cloud {
		out = append(out, d)
	}
	slices.SortFunc(out, compareDots)
	return out
}

func sortedDots(m map[Dot]struct{}) []Dot {
	out := make([]Dot, 0, len(m))
	for d := range m {
		out = append(out, d)
	}
	slices.SortFunc(out, compareDots)
	return out
}

// replicas returns every replica the context names, in ascending order.
func (s Set) replicas() []ReplicaID {
	var ids []ReplicaID
	for id := range s.vv {
		ids = append(ids, id)
	}
	for d := range s.cloud {
		if _, ok := s.vv[d.Origin]; !ok {
			ids = append(ids, d.Origin)
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// mergeSets is Merge for two sets: changed when the join differs from s.
func mergeSets(s, d Set) (State, bool, error) {
	m := s.Merge(d)
	if bytes.Equal(Encode(m), Encode(s)) {
		return s, false, nil
	}
	return m, true, nil
}

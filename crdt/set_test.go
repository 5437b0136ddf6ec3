package crdt_test

import (
	"errors"
	"testing"

	"github.com/grapevine-kv/grapevine/crdt"
)

func TestSetAddRemove(t *testing.T) {
	x, y := []byte("x"), []byte("y")
	var s crdt.Set
	d, err := s.Add("a", x, y, x)
	if err != nil {
		t.Fatal(err)
	}
	s = s.Merge(d)
	if !s.Contains(x) || !s.Contains(y) || s.Len() != 2 {
		t.Fatalf("after add: %q", s.Members())
	}
	d, _ = s.Remove(x, []byte("absent"))
	s = s.Merge(d)
	if s.Contains(x) || !s.Contains(y) {
		t.Fatalf("after remove x: %q", s.Members())
	}
	// Re-adding after a remove works: the new add has a new dot.
	d, _ = s.Add("a", x)
	if s = s.Merge(d); !s.Contains(x) {
		t.Fatalf("re-add lost: %q", s.Members())
	}
	// Removing a non-member is an empty delta.
	if d, _ := s.Remove([]byte("nope")); !d.Empty() {
		t.Fatalf("removing a non-member gave %x", crdt.Encode(d))
	}
	if _, err := s.Add("a", nil); !errors.Is(err, crdt.ErrMemberTooLarge) {
		t.Fatalf("empty member: %v", err)
	}
	if _, err := s.Add("a", make([]byte, crdt.MaxMemberLen+1)); !errors.Is(err, crdt.ErrMemberTooLarge) {
		t.Fatalf("huge member: %v", err)
	}
}

// TestSetRemoveKeepsNoTombstone: adding and removing many members leaves a
// state whose size does not grow with them: the context compacts to one
// version-vector entry per replica.
func TestSetRemoveKeepsNoTombstone(t *testing.T) {
	var s crdt.Set
	for i := range 1000 {
		m := []byte{byte(i), byte(i >> 8)}
		d, _ := s.Add("a", m)
		s = s.Merge(d)
		d, _ = s.Remove(m)
		s = s.Merge(d)
	}
	if enc := crdt.Encode(s); len(enc) > 16 || s.Len() != 0 {
		t.Fatalf("1000 adds and removes left %d members in %d bytes: %x", s.Len(), len(enc), enc)
	}
}

// TestCounterReset: a reset takes the value to 0 on every replica that
// gets it; an increment the resetter had not seen survives.
func TestCounterReset(t *testing.T) {
	var a, b crdt.Counter
	inc := func(c crdt.Counter, id crdt.ReplicaID, by int64) (crdt.Counter, crdt.Counter) {
		d, err := c.Increment(id, by)
		if err != nil {
			t.Fatal(err)
		}
		return c.Merge(d), d
	}
	a, d1 := inc(a, "a", 5)
	b = b.Merge(d1)
	b, d2 := inc(b, "b", 3) // a has not seen it
	r := a.Reset("a", ts(10, 0))
	a = a.Merge(r)
	if a.Value() != 0 || !a.IsReset() || a.ResetTime() != ts(10, 0) {
		t.Fatalf("after reset on a: %d, reset %t at %v", a.Value(), a.IsReset(), a.ResetTime())
	}
	a = a.Merge(d2)
	b = b.Merge(r)
	if a.Value() != 3 || b.Value() != 3 || a.IsReset() {
		t.Fatalf("concurrent increment: a=%d b=%d, want 3 (reset %t)", a.Value(), b.Value(), a.IsReset())
	}
	if (crdt.Counter{}).Reset("a", 1).Len() != 0 {
		t.Fatal("resetting an empty counter made a delta")
	}
	a, _ = inc(a, "a", -2)
	if a.Value() != 1 {
		t.Fatalf("increment after reset: %d, want 1", a.Value())
	}
}

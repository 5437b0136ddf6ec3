package crdt_test

import (
	"bytes"
	"slices"
	"sync"
	"time"

	"github.com/grapevine-kv/grapevine/crdt"
)

// fatalfer is the part of *testing.T and *rapid.T the shared checkers use.
type fatalfer interface {
	Fatalf(format string, args ...any)
}

// fakeWall is an injectable wall clock, set by hand in milliseconds.
type fakeWall struct {
	mu struct {
		sync.Mutex
		ms int64
	}
}

func newFakeWall(ms int64) *fakeWall {
	w := &fakeWall{}
	w.set(ms)
	return w
}

func (w *fakeWall) now() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return time.UnixMilli(w.mu.ms)
}

func (w *fakeWall) set(ms int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.mu.ms = ms
}

func (w *fakeWall) millis() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.mu.ms
}

// sameEncoding reports whether a and b encode to identical bytes.
func sameEncoding(a, b crdt.State) bool {
	return bytes.Equal(crdt.Encode(a), crdt.Encode(b))
}

// equalState reports whether a and b are the same state: same type and,
// field by field, the same content (a nil and an empty value are equal, a
// tombstone's value is ignored).
func equalState(a, b crdt.State) bool {
	switch a := a.(type) {
	case crdt.Register:
		b, ok := b.(crdt.Register)
		if !ok || a.Time != b.Time || a.Origin != b.Origin || a.Deleted != b.Deleted || !bytes.Equal(a.Sig, b.Sig) {
			return false
		}
		return a.Deleted || bytes.Equal(a.Value, b.Value) && a.Expires == b.Expires
	case crdt.Counter:
		b, ok := b.(crdt.Counter)
		if !ok || !slices.Equal(a.Replicas(), b.Replicas()) {
			return false
		}
		for _, id := range a.Replicas() {
			if a.Slot(id) != b.Slot(id) {
				return false
			}
		}
		return true
	}
	return false
}

// ts is shorthand for crdt.NewTimestamp.
func ts(ms int64, logical uint16) crdt.Timestamp { return crdt.NewTimestamp(ms, logical) }

package wire

import (
	"errors"
	"maps"
	"slices"
	"testing"
)

func TestHelloSyncedRoundTrip(t *testing.T) {
	b := AppendHello(nil, []string{"default", "other"})
	b = AppendHelloSynced(b, "default", 1_700_000_000_123)
	b = AppendHelloSynced(b, "gone", 42)
	ns, err := UnmarshalHello(b)
	if err != nil || !slices.Equal(ns, []string{"default", "other"}) {
		t.Fatalf("UnmarshalHello with marks = %v, %v", ns, err)
	}
	marks, err := UnmarshalHelloSynced(b)
	want := map[string]int64{"default": 1_700_000_000_123, "gone": 42}
	if err != nil || !maps.Equal(marks, want) {
		t.Fatalf("UnmarshalHelloSynced = %v, %v; want %v", marks, err, want)
	}
	if marks, err := UnmarshalHelloSynced(AppendHello(nil, []string{"x"})); err != nil || len(marks) != 0 {
		t.Errorf("hello of an older peer: marks %v, %v; want none", marks, err)
	}
	if _, err := UnmarshalHelloSynced(AppendHelloSynced(nil, "", 1)); !errors.Is(err, ErrMalformed) {
		t.Errorf("empty namespace: %v, want ErrMalformed", err)
	}
}

func FuzzHelloSynced(f *testing.F) {
	f.Add(AppendHelloSynced(AppendHello(nil, []string{"default"}), "default", 1_700_000_000_000))
	f.Add([]byte{0x12, 0x02, 0x0a, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		marks, err := UnmarshalHelloSynced(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error not ErrMalformed: %v", err)
			}
			return
		}
		var again []byte
		for _, ns := range slices.Sorted(maps.Keys(marks)) {
			again = AppendHelloSynced(again, ns, marks[ns])
		}
		back, err := UnmarshalHelloSynced(again)
		if err != nil || !maps.Equal(back, marks) {
			t.Fatalf("re-encoding: %v, %v; want %v", back, err, marks)
		}
	})
}

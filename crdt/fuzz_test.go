package crdt_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/crdt"
)

// FuzzDecode: Decode never panics, rejects with ErrMalformed, and accepts
// only canonical encodings, so whatever it accepts re-encodes to the input.
func FuzzDecode(f *testing.F) {
	for _, c := range encodingCases {
		f.Add(c.enc)
	}
	for _, c := range malformedCases {
		if len(c.in) <= 1024 {
			f.Add(c.in)
		}
	}
	f.Add(crdt.Encode(crdt.Register{Time: ts(1, 2), Origin: "a", Value: []byte("v"), Expires: 3})) // with an expiry
	for _, c := range registerOrder {
		f.Add(crdt.Encode(c.lo))
		f.Add(crdt.Encode(c.hi))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		orig := bytes.Clone(in)
		s, err := crdt.Decode(in)
		if !bytes.Equal(in, orig) {
			t.Fatalf("Decode modified its input")
		}
		if err != nil {
			if !errors.Is(err, crdt.ErrMalformed) {
				t.Fatalf("Decode(%x) error %v does not wrap ErrMalformed", in, err)
			}
			if s != nil {
				t.Fatalf("Decode(%x) returned %#v with error %v", in, s, err)
			}
			return
		}
		if s == nil {
			t.Fatalf("Decode(%x) returned neither a state nor an error", in)
		}
		enc := crdt.Encode(s)
		if !bytes.Equal(enc, in) {
			t.Fatalf("Decode accepted a non-canonical encoding:\n  in %x\n re-encoded %x", in, enc)
		}
		// Merging the decoded state with itself or nothing changes nothing.
		if m, changed, err := crdt.Merge(s, s); err != nil || changed || !bytes.Equal(crdt.Encode(m), in) {
			t.Fatalf("Merge(s, s) = %x, %t, %v", crdt.Encode(m), changed, err)
		}
	})
}

// FuzzClockObserve runs arbitrary scripts of wall-clock moves, Now, Observe
// and Restore calls against the exact model in clockHarness: Now strictly
// increases (saturating only at MaxTimestamp), an accepted Observe(r) makes
// every later Now() > r, and a rejected one leaves Last() unchanged.
func FuzzClockObserve(f *testing.F) {
	for _, sc := range clockScripts {
		steps := make([]clockStep, len(sc.steps))
		for i, s := range sc.steps {
			steps[i] = s.clockStep
		}
		f.Add(sc.startWall, int64(sc.maxDrift), encodeClockScript(steps))
	}
	f.Add(int64(1000), int64(time.Minute), encodeClockScript([]clockStep{
		{opObserveNear, uint64(uint32(60_000))<<16 | 7}, {opNow, 0},
		{opObserveNear, uint64(uint32(60_001)) << 16}, {opWallStep, uint64(uint16(0xFFFF))}, {opNow, 0},
	}))
	f.Fuzz(func(t *testing.T, startWall, maxDrift int64, script []byte) {
		h := newClockHarness(startWall, time.Duration(maxDrift))
		for _, s := range decodeClockScript(script, 1000) {
			h.step(t, s)
		}
	})
}

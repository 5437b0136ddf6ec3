package crdt_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/grapevine-kv/grapevine/crdt"
)

// setSeeds are encodings of sets and of reset counters: the fuzz corpus of
// FuzzDecodeSet and the inputs of TestSetDecodeRejects.
func setSeeds() [][]byte {
	x, y := []byte("x"), []byte("y")
	a, _ := crdt.Set{}.Add("a", x, y)
	b, _ := crdt.Set{}.Add("b", x)
	ab := a.Merge(b)
	rm, _ := ab.Remove(x)
	gap := crdt.Set{}.Merge(rm) // a context with a cloud (dots past gaps)
	c := crdt.NewCounter(map[crdt.ReplicaID]crdt.Slot{"a": {P: 5}, "b": {P: 1, N: 2}})
	reset := c.Merge(c.Reset("b", 7))
	signed := crdt.NewCounter(map[crdt.ReplicaID]crdt.Slot{"a": {P: 5, Sig: "s"}})
	return [][]byte{
		crdt.Encode(crdt.Set{}), crdt.Encode(a), crdt.Encode(ab), crdt.Encode(ab.Merge(rm)), crdt.Encode(gap),
		crdt.Encode(reset), crdt.Encode(signed.Merge(signed.Reset("a", 1))),
	}
}

// FuzzDecodeSet: as FuzzDecode, seeded with sets and reset counters:
// Decode never panics, rejects with ErrMalformed, and what it accepts
// re-encodes to the input and merges idempotently.
func FuzzDecodeSet(f *testing.F) {
	for _, s := range setSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := crdt.Decode(in)
		if err != nil {
			if !errors.Is(err, crdt.ErrMalformed) {
				t.Fatalf("Decode(%x) error %v does not wrap ErrMalformed", in, err)
			}
			return
		}
		if enc := crdt.Encode(s); !bytes.Equal(enc, in) {
			t.Fatalf("Decode accepted a non-canonical encoding:\n  in %x\n re-encoded %x", in, enc)
		}
		if m, changed, err := crdt.Merge(s, s); err != nil || changed || !bytes.Equal(crdt.Encode(m), in) {
			t.Fatalf("Merge(s, s) = %x, %t, %v", crdt.Encode(m), changed, err)
		}
	})
}

// TestSetDecodeRejects: every seed decodes; cutting a byte off or adding
// one is refused as malformed; a signed set is refused.
func TestSetDecodeRejects(t *testing.T) {
	for _, enc := range setSeeds() {
		if _, err := crdt.Decode(enc); err != nil {
			t.Fatalf("Decode(%x): %v", enc, err)
		}
		for _, bad := range [][]byte{enc[:len(enc)-1], append(bytes.Clone(enc), 0)} {
			if len(bad) < 3 {
				continue
			}
			if _, err := crdt.Decode(bad); !errors.Is(err, crdt.ErrMalformed) {
				t.Errorf("Decode(%x) = %v, want ErrMalformed", bad, err)
			}
		}
	}
	a, _ := crdt.Set{}.Add("a", []byte("x"))
	enc := crdt.Encode(a)
	enc[0] = 2 // the signed encoding
	if _, err := crdt.Decode(enc); !errors.Is(err, crdt.ErrMalformed) {
		t.Errorf("a signed set decoded: %v", err)
	}
}

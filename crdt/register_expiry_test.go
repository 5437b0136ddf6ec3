package crdt_test

import (
	"bytes"
	"errors"
	"testing"

	"pgregory.net/rapid"

	"github.com/grapevine-kv/grapevine/crdt"
)

// genExpires draws no expiry as often as not, else one close to the stamps
// genTimestamp draws, or an extreme.
func genExpires() *rapid.Generator[int64] {
	return rapid.OneOf(
		rapid.Just[int64](0),
		rapid.Int64Range(1, 4),
		rapid.Just[int64](crdt.MaxMillis),
	)
}

func TestRegisterExpired(t *testing.T) {
	r := crdt.Register{Time: ts(10, 0), Origin: "a", Value: []byte("v"), Expires: 20}
	for _, tt := range []struct {
		at      crdt.Timestamp
		expired bool
	}{
		{ts(10, 0), false}, {ts(19, 0xFFFF), false}, {ts(20, 0), true}, {ts(21, 3), true},
	} {
		if got := r.Expired(tt.at); got != tt.expired || r.Live(tt.at) == tt.expired {
			t.Errorf("Expired(%s) = %t, Live = %t; want expired %t", tt.at, got, r.Live(tt.at), tt.expired)
		}
	}
	if r.ExpiresAt() != ts(20, 0) {
		t.Errorf("ExpiresAt = %s, want %s", r.ExpiresAt(), ts(20, 0))
	}
	never := crdt.Register{Time: ts(10, 0), Origin: "a", Value: []byte("v")}
	if never.Expired(crdt.MaxTimestamp) || never.ExpiresAt() != 0 {
		t.Errorf("a register without expiry expired")
	}
	tomb := crdt.Register{Time: ts(10, 0), Origin: "a", Deleted: true, Expires: 20}
	if tomb.Expired(ts(30, 0)) || tomb.Live(ts(30, 0)) || tomb.ExpiresAt() != 0 {
		t.Errorf("a tombstone: Expired %t Live %t ExpiresAt %s", tomb.Expired(ts(30, 0)), tomb.Live(ts(30, 0)), tomb.ExpiresAt())
	}
}

// TestRegisterExpiryEncoding: a register without expiry keeps the bytes it
// had before expiry existed; with one, the expiry round-trips and is part
// of the order, the encoding and the signed payload.
func TestRegisterExpiryEncoding(t *testing.T) {
	plain := crdt.Register{Time: ts(1, 2), Origin: "a", Value: []byte("v")}
	old := []byte{1, 1, 0, 0, 0, 0, 0, 1, 0, 2, 0, 1, 'a', 'v'} // version 1 as written before expiry
	if got := crdt.Encode(plain); !bytes.Equal(got, old) {
		t.Fatalf("Encode(no expiry) = %x, want the old %x", got, old)
	}
	exp := plain
	exp.Expires = 0x0102
	want := []byte{1, 1, 0, 0, 0, 0, 0, 1, 0, 2, 2, 0, 0, 0, 0, 0, 0, 1, 2, 1, 'a', 'v'}
	if got := crdt.Encode(exp); !bytes.Equal(got, want) {
		t.Fatalf("Encode(expiry) = %x, want %x", got, want)
	}
	dec, err := crdt.Decode(want)
	if err != nil || dec.(crdt.Register).Expires != 0x0102 {
		t.Fatalf("Decode = %#v, %v", dec, err)
	}
	if plain.Compare(exp) == 0 {
		t.Errorf("registers differing only in expiry compare equal")
	}
	if bytes.Equal(crdt.AppendRegisterPayload(nil, "ns", []byte("k"), plain), crdt.AppendRegisterPayload(nil, "ns", []byte("k"), exp)) {
		t.Errorf("the signed payload does not cover the expiry")
	}
	// A tombstone drops an expiry, like its value.
	tomb := crdt.Register{Time: ts(1, 2), Origin: "a", Deleted: true, Expires: 9}
	if !bytes.Equal(crdt.Encode(tomb), crdt.Encode(crdt.Register{Time: ts(1, 2), Origin: "a", Deleted: true})) {
		t.Errorf("a tombstone's expiry is encoded")
	}
	for name, in := range map[string][]byte{
		"zero expiry":        {1, 1, 0, 0, 0, 0, 0, 1, 0, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 'a'},
		"expiry past max":    {1, 1, 0, 0, 0, 0, 0, 1, 0, 2, 2, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 1, 'a'},
		"short expiry":       {1, 1, 0, 0, 0, 0, 0, 1, 0, 2, 2, 0, 0, 1},
		"tombstone expiring": {1, 1, 0, 0, 0, 0, 0, 1, 0, 2, 3, 0, 0, 0, 0, 0, 0, 0, 1, 1, 'a'},
	} {
		if _, err := crdt.Decode(in); !errors.Is(err, crdt.ErrMalformed) {
			t.Errorf("%s: Decode error %v, want ErrMalformed", name, err)
		}
	}
}

// TestExpiryAgreesAcrossReplicas: replicas that receive the same writes
// (with expiries) in any order and with duplicates converge on one state,
// and therefore agree, at every HLC stamp, on whether the key has expired:
// it expires on every replica at the same stamp.
func TestExpiryAgreesAcrossReplicas(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		writes := rapid.SliceOfN(genRegister(), 1, 8).Draw(t, "writes")
		replicas := make([]crdt.Register, 3)
		for i := range replicas {
			order := rapid.Permutation(writes).Draw(t, "order")
			order = append(order, rapid.SliceOfN(rapid.SampledFrom(writes), 0, 4).Draw(t, "duplicates")...)
			for _, w := range order {
				replicas[i] = replicas[i].Merge(w)
			}
		}
		at := genTimestamp().Draw(t, "at")
		for i, r := range replicas[1:] {
			if r.Expired(at) != replicas[0].Expired(at) || r.ExpiresAt() != replicas[0].ExpiresAt() || r.Compare(replicas[0]) != 0 {
				t.Fatalf("replica %d: expired %t at %s, replica 0: %t", i+1, r.Expired(at), at, replicas[0].Expired(at))
			}
		}
		// The winner brings its expiry: the merged state's is the greatest write's.
		best := writes[0]
		for _, w := range writes[1:] {
			if w.Compare(best) > 0 {
				best = w
			}
		}
		if replicas[0].ExpiresAt() != best.ExpiresAt() {
			t.Fatalf("merged expiry %s, winning write's %s", replicas[0].ExpiresAt(), best.ExpiresAt())
		}
	})
}

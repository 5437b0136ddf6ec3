package crdt_test

import (
	"bytes"
	"crypto/ed25519"
	"testing"

	"pgregory.net/rapid"

	"github.com/grapevine-kv/grapevine/crdt"
)

// The signed encoding is tested with real Ed25519 signatures (the standard
// library's, as node uses libp2p's Ed25519 keys): crdt itself never signs,
// but its payload must make every change of a signed state detectable.

// signers are the test's writers: replica ID → key, from fixed seeds.
var signers = func() map[crdt.ReplicaID]ed25519.PrivateKey {
	m := make(map[crdt.ReplicaID]ed25519.PrivateKey)
	for i, id := range []crdt.ReplicaID{"a", "b", "ab"} {
		m[id] = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{byte(i + 1)}, ed25519.SeedSize))
	}
	return m
}()

var signedIDs = []crdt.ReplicaID{"a", "b", "ab"}

func signRegister(ns string, key []byte, r crdt.Register) crdt.Register {
	r.Sig = ed25519.Sign(signers[r.Origin], crdt.AppendRegisterPayload(nil, ns, key, r))
	return r
}

func signSlot(ns string, key []byte, id crdt.ReplicaID, s crdt.Slot) crdt.Slot {
	s.Sig = string(ed25519.Sign(signers[id], crdt.AppendSlotPayload(nil, ns, key, id, s)))
	return s
}

// verify is what node does for a namespace whose writers are signers: every
// register and every slot must carry its origin's valid signature.
func verify(ns string, key []byte, s crdt.State) bool {
	switch s := s.(type) {
	case crdt.Register:
		k, ok := signers[s.Origin]
		return ok && ed25519.Verify(k.Public().(ed25519.PublicKey), crdt.AppendRegisterPayload(nil, ns, key, s), s.Sig)
	case crdt.Counter:
		for _, id := range s.Replicas() {
			k, ok := signers[id]
			slot := s.Slot(id)
			if !ok || !ed25519.Verify(k.Public().(ed25519.PublicKey), crdt.AppendSlotPayload(nil, ns, key, id, slot), []byte(slot.Sig)) {
				return false
			}
		}
		return s.Len() > 0
	}
	return false
}

func genSignedState(ns string, key []byte) *rapid.Generator[crdt.State] {
	return rapid.OneOf(
		rapid.Custom(func(t *rapid.T) crdt.State {
			r := genRegister().Draw(t, "r")
			r.Origin = rapid.SampledFrom(signedIDs).Draw(t, "origin")
			if r.Deleted {
				r.Value = nil
			}
			return signRegister(ns, key, r)
		}),
		rapid.Custom(func(t *rapid.T) crdt.State {
			slots := map[crdt.ReplicaID]crdt.Slot{}
			for _, id := range signedIDs {
				s := genSlot().Draw(t, "slot")
				if !s.IsZero() || len(slots) == 0 && id == signedIDs[len(signedIDs)-1] {
					if s.IsZero() {
						s.P = 1
					}
					slots[id] = signSlot(ns, key, id, s)
				}
			}
			return crdt.NewCounter(slots)
		}),
	)
}

// TestSignedRoundTrip: a signed state encodes as version 2, decodes to the
// same state, and still verifies.
func TestSignedRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		key := []byte("k")
		s := genSignedState("ns", key).Draw(t, "s")
		enc := crdt.Encode(s)
		if enc[0] != 2 {
			t.Fatalf("signed state encoded as version %d", enc[0])
		}
		d, err := crdt.Decode(enc)
		if err != nil || !equalState(d, s) || !bytes.Equal(crdt.Encode(d), enc) {
			t.Fatalf("Decode(Encode(%#v)) = %#v, %v", s, d, err)
		}
		if !verify("ns", key, d) {
			t.Fatalf("decoded state does not verify")
		}
	})
}

// TestSignedBitFlip: flipping any one bit of a signed state's encoding
// makes Decode refuse it or yields a state that fails verification.
func TestSignedBitFlip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		key := []byte("k")
		enc := crdt.Encode(genSignedState("ns", key).Draw(t, "s"))
		bit := rapid.IntRange(0, 8*len(enc)-1).Draw(t, "bit")
		flipped := bytes.Clone(enc)
		flipped[bit/8] ^= 1 << (bit % 8)
		d, err := crdt.Decode(flipped)
		if err == nil && verify("ns", key, d) {
			t.Fatalf("bit %d flipped: %x still verifies as %#v", bit, flipped, d)
		}
	})
}

// TestSignatureBinding: a valid signature does not verify for another
// namespace or key, and a slot's not for another replica or another count.
func TestSignatureBinding(t *testing.T) {
	r := signRegister("ns", []byte("k"), crdt.Register{Time: ts(5, 0), Origin: "a", Value: []byte("v")})
	for name, ok := range map[string]bool{
		"same":              verify("ns", []byte("k"), r),
		"other namespace":   !verify("ns2", []byte("k"), r),
		"other key":         !verify("ns", []byte("k2"), r),
		"namespace/key cut": !verify("nsk", []byte(""), r),
		"tombstone":         !verify("ns", []byte("k"), crdt.Register{Time: r.Time, Origin: r.Origin, Deleted: true, Sig: r.Sig}),
		"other origin":      !verify("ns", []byte("k"), crdt.Register{Time: r.Time, Origin: "b", Value: r.Value, Sig: r.Sig}),
	} {
		if !ok {
			t.Errorf("register, %s: wrong verification result", name)
		}
	}
	s := signSlot("ns", []byte("k"), "a", crdt.Slot{P: 3, N: 1})
	c := func(id crdt.ReplicaID, s crdt.Slot) crdt.Counter {
		return crdt.NewCounter(map[crdt.ReplicaID]crdt.Slot{id: s})
	}
	for name, ok := range map[string]bool{
		"same":          verify("ns", []byte("k"), c("a", s)),
		"other key":     !verify("ns", []byte("k2"), c("a", s)),
		"other replica": !verify("ns", []byte("k"), c("b", s)),
		"other P":       !verify("ns", []byte("k"), c("a", crdt.Slot{P: 4, N: 1, Sig: s.Sig})),
		"other N":       !verify("ns", []byte("k"), c("a", crdt.Slot{P: 3, N: 2, Sig: s.Sig})),
	} {
		if !ok {
			t.Errorf("slot, %s: wrong verification result", name)
		}
	}
	// The register and slot payloads of one namespace and key never collide.
	if bytes.Equal(crdt.AppendRegisterPayload(nil, "ns", []byte("k"), crdt.Register{}), crdt.AppendSlotPayload(nil, "ns", []byte("k"), "", crdt.Slot{})) {
		t.Errorf("register and slot payloads are equal")
	}
}

// TestSignedMergeLaws: merge laws hold for signed states, and merging
// validly signed states yields a validly signed state (a slot moves as a
// unit, never as a mix nobody signed).
func TestSignedMergeLaws(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		key := []byte("k")
		typ := rapid.IntRange(0, 1).Draw(t, "type")
		var st [3]crdt.State
		for i := range st {
			for {
				st[i] = genSignedState("ns", key).Draw(t, "s")
				if (typ == 0) == (st[i].Type() == crdt.TypeRegister) {
					break
				}
			}
		}
		checkLaws(t, "crdt.Merge(signed)", st[0], st[1], st[2], func(x, y crdt.State) crdt.State {
			m := mergeState(t, x, y)
			if !verify("ns", key, m) {
				t.Fatalf("merge of signed states %#v and %#v does not verify: %#v", x, y, m)
			}
			return m
		})
	})
}

// FuzzDecodeSigned: whatever Decode accepts re-encodes canonically, and a
// mutation of validly signed states never verifies unless every signed unit
// in it (the register, each slot) is one that was signed (a counter made of
// some of the signed slots is itself a valid state).
func FuzzDecodeSigned(f *testing.F) {
	key := []byte("k")
	seeds := []crdt.State{
		signRegister("ns", key, crdt.Register{Time: ts(1, 2), Origin: "a", Value: []byte("value")}),
		signRegister("ns", key, crdt.Register{Time: ts(3, 0), Origin: "b", Deleted: true}),
		crdt.NewCounter(map[crdt.ReplicaID]crdt.Slot{
			"a": signSlot("ns", key, "a", crdt.Slot{P: 5, N: 1}),
			"b": signSlot("ns", key, "b", crdt.Slot{N: 300}),
		}),
	}
	signed := make(map[string]bool) // encodings of the signed units
	unit := func(id crdt.ReplicaID, s crdt.Slot) string {
		return string(crdt.Encode(crdt.NewCounter(map[crdt.ReplicaID]crdt.Slot{id: s})))
	}
	for _, s := range seeds {
		f.Add(crdt.Encode(s))
		if c, ok := s.(crdt.Counter); ok {
			for _, id := range c.Replicas() {
				signed[unit(id, c.Slot(id))] = true
			}
			continue
		}
		signed[string(crdt.Encode(s))] = true
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := crdt.Decode(in)
		if err != nil {
			return
		}
		if enc := crdt.Encode(s); !bytes.Equal(enc, in) {
			t.Fatalf("Decode accepted a non-canonical encoding %x (re-encodes to %x)", in, enc)
		}
		if !verify("ns", key, s) {
			return
		}
		if c, ok := s.(crdt.Counter); ok {
			for _, id := range c.Replicas() {
				if !signed[unit(id, c.Slot(id))] {
					t.Fatalf("forged slot %q %+v in %x verifies", id, c.Slot(id), in)
				}
			}
			return
		}
		if !signed[string(in)] {
			t.Fatalf("forged state %x verifies", in)
		}
	})
}

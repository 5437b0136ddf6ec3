package crdt

import "encoding/binary"

// SignatureDomain opens every signing payload, so that a grapevine
// signature can never be taken for a signature of anything else made with
// the same key (a libp2p record, a GossipSub message), nor of another
// version of this payload.
const SignatureDomain = "grapevine/signed-state/v1\x00"

// AppendRegisterPayload appends the bytes an origin signs for register r
// stored at key in namespace ns:
//
//	SignatureDomain type(1)=TypeRegister
//	uvarint(len ns) ns uvarint(len key) key
//	hlc(8, big endian) flags(1) [expires(8)] uvarint(len origin) origin value...
//
// flags and expires are as in AppendEncode: 1 for a tombstone, whose Value
// is ignored (as Encode drops it), 2 when an expiry follows, so a
// signature covers the expiry and one made before expiry existed still
// verifies.
// r.Sig is not part of it. Every field is length-prefixed or fixed-size
// except the value, which is last, so distinct (ns, key, r) give distinct
// payloads: a signature cannot be moved to another namespace, key, type,
// time, origin or value.
func AppendRegisterPayload(b []byte, ns string, key []byte, r Register) []byte {
	b = appendPayloadHeader(b, TypeRegister, ns, key)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Time))
	b = appendRegisterFlags(b, r)
	b = appendBytes(b, []byte(r.Origin))
	if !r.Deleted {
		b = append(b, r.Value...)
	}
	return b
}

// AppendSlotPayload appends the bytes replica origin signs for its slot s
// of the counter at key in namespace ns:
//
//	SignatureDomain type(1)=TypeCounter
//	uvarint(len ns) ns uvarint(len key) key
//	uvarint(len origin) origin P(8, big endian) N(8, big endian)
//
// s.Sig is not part of it.
func AppendSlotPayload(b []byte, ns string, key []byte, origin ReplicaID, s Slot) []byte {
	b = appendPayloadHeader(b, TypeCounter, ns, key)
	b = appendBytes(b, []byte(origin))
	b = binary.BigEndian.AppendUint64(b, s.P)
	return binary.BigEndian.AppendUint64(b, s.N)
}

func appendPayloadHeader(b []byte, t Type, ns string, key []byte) []byte {
	b = append(b, SignatureDomain...)
	b = append(b, byte(t))
	b = appendBytes(b, []byte(ns))
	return appendBytes(b, key)
}

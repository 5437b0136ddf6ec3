package storage

import (
	"encoding/binary"
	"fmt"

	"github.com/cespare/xxhash/v2"

	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/internal/wire"
)

// On-disk layout. Every Badger key starts with a one-byte table tag; a
// namespace (which never contains 0x00) is followed by a 0x00 delimiter, so
// no namespace's keys are a prefix of another's.
//
//	data:      'd' ns 0x00 type(1) key                 → crdt encoding of the state
//	hash index 'h' ns 0x00 placement(8, BE) type(1) key → item fingerprint (8, BE)
//	time index 't' hlc(8, BE) ns 0x00 key               → empty (tombstones at their time, values with a TTL at their expiry; see purgeTime)
//	meta       'm' name                                → per-entry value
const (
	tagData  = 'd'
	tagHash  = 'h'
	tagTomb  = 't'
	tagMeta  = 'm'
	nsDelim  = 0x00
	hashSize = 8
)

var (
	metaFormat = []byte{tagMeta, 'f', 'o', 'r', 'm', 'a', 't'} // format version, 1 byte
	metaClock  = []byte{tagMeta, 'c', 'l', 'o', 'c', 'k'}      // HLC high-water mark, 8 bytes BE
)

// formatVersion is the on-disk layout version written at creation.
const formatVersion = 1

// MaxKeyLen is the longest key accepted, in bytes (the wire's limit).
const MaxKeyLen = wire.MaxKeyLen

// MaxNamespaceLen is the longest namespace accepted, in bytes (the wire's
// limit).
const MaxNamespaceLen = wire.MaxNamespaceLen

// ValidNamespace reports whether ns is a valid namespace: 1 to 64 bytes of
// [a-z0-9._-]. It returns an error wrapping ErrInvalidNamespace otherwise.
func ValidNamespace(ns string) error {
	if len(ns) == 0 || len(ns) > MaxNamespaceLen {
		return fmt.Errorf("%w: length %d not in 1..%d", ErrInvalidNamespace, len(ns), MaxNamespaceLen)
	}
	for i := 0; i < len(ns); i++ {
		c := ns[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%w: %q: byte %d (%#x) is not one of [a-z0-9._-]", ErrInvalidNamespace, ns, i, c)
		}
	}
	return nil
}

func validKey(key []byte) error {
	if len(key) == 0 || len(key) > MaxKeyLen {
		return fmt.Errorf("%w: length %d not in 1..%d", ErrInvalidKey, len(key), MaxKeyLen)
	}
	return nil
}

func validType(t crdt.Type) error {
	switch t {
	case crdt.TypeRegister, crdt.TypeCounter, crdt.TypeSet:
		return nil
	}
	return fmt.Errorf("%w: unknown state type %s", ErrInvalidArgument, t)
}

// PlacementHash is where the item for (typ, key) sits in the hash space
// anti-entropy partitions: xxhash64 of the type byte followed by the key.
// It depends on the key alone, never on the state, so an item keeps its
// place when its state changes. Every replica computes the same value.
func PlacementHash(typ crdt.Type, key []byte) uint64 {
	var d xxhash.Digest
	d.Reset()
	_, _ = d.Write([]byte{byte(typ)})
	_, _ = d.Write(key)
	return d.Sum64()
}

// ItemHash is the fingerprint of an item: xxhash64 of the type byte, the
// key (length-prefixed) and the state's canonical encoding (crdt.Encode).
// Replicas holding the same state for a key have the same fingerprint.
func ItemHash(typ crdt.Type, key, encoded []byte) uint64 {
	var d xxhash.Digest
	d.Reset()
	var hdr [1 + binary.MaxVarintLen64]byte
	hdr[0] = byte(typ)
	n := binary.PutUvarint(hdr[1:], uint64(len(key)))
	_, _ = d.Write(hdr[:1+n])
	_, _ = d.Write(key)
	_, _ = d.Write(encoded)
	return d.Sum64()
}

func nsPrefix(tag byte, ns string) []byte {
	b := make([]byte, 0, 2+len(ns)+hashSize+1+32)
	b = append(b, tag)
	b = append(b, ns...)
	return append(b, nsDelim)
}

// dataPrefix is the prefix of every data key of one type in ns.
func dataPrefix(ns string, typ crdt.Type) []byte {
	return append(nsPrefix(tagData, ns), byte(typ))
}

func dataKey(ns string, typ crdt.Type, key []byte) []byte {
	return appendDataKey(make([]byte, 0, dataKeyLen(ns, key)), ns, typ, key)
}

func dataKeyLen(ns string, key []byte) int { return 3 + len(ns) + len(key) }

func appendDataKey(b []byte, ns string, typ crdt.Type, key []byte) []byte {
	b = append(b, tagData)
	b = append(b, ns...)
	b = append(b, nsDelim, byte(typ))
	return append(b, key...)
}

func hashKey(ns string, h uint64, typ crdt.Type, key []byte) []byte {
	return appendHashKey(make([]byte, 0, hashKeyLen(ns, key)), ns, h, typ, key)
}

func hashKeyLen(ns string, key []byte) int { return 3 + hashSize + len(ns) + len(key) }

func appendHashKey(b []byte, ns string, h uint64, typ crdt.Type, key []byte) []byte {
	b = append(b, tagHash)
	b = append(b, ns...)
	b = append(b, nsDelim)
	b = binary.BigEndian.AppendUint64(b, h)
	b = append(b, byte(typ))
	return append(b, key...)
}

// hashSeek is the first possible hash-index key of ns at hash h.
func hashSeek(ns string, h uint64) []byte {
	return binary.BigEndian.AppendUint64(nsPrefix(tagHash, ns), h)
}

func tombKey(t crdt.Timestamp, ns string, key []byte) []byte {
	b := make([]byte, 0, 2+hashSize+len(ns)+len(key))
	b = append(b, tagTomb)
	b = binary.BigEndian.AppendUint64(b, uint64(t))
	b = append(b, ns...)
	b = append(b, nsDelim)
	return append(b, key...)
}

// splitNS splits "ns 0x00 rest" (after the tag byte).
func splitNS(b []byte) (ns, rest []byte, ok bool) {
	for i, c := range b {
		if c == nsDelim {
			return b[:i], b[i+1:], i > 0
		}
	}
	return nil, nil, false
}

// parseHashKey parses a hash-index key. The returned slices alias k.
func parseHashKey(k []byte) (ns []byte, h uint64, typ crdt.Type, key []byte, ok bool) {
	if len(k) < 1 || k[0] != tagHash {
		return nil, 0, 0, nil, false
	}
	ns, rest, ok := splitNS(k[1:])
	if !ok || len(rest) < hashSize+2 {
		return nil, 0, 0, nil, false
	}
	return ns, binary.BigEndian.Uint64(rest), crdt.Type(rest[hashSize]), rest[hashSize+1:], true
}

// parseTombKey parses a tombstone-index key. The returned slices alias k.
func parseTombKey(k []byte) (t crdt.Timestamp, ns, key []byte, ok bool) {
	if len(k) < 1+hashSize || k[0] != tagTomb {
		return 0, nil, nil, false
	}
	t = crdt.Timestamp(binary.BigEndian.Uint64(k[1:]))
	ns, key, ok = splitNS(k[1+hashSize:])
	if !ok || len(key) == 0 {
		return 0, nil, nil, false
	}
	return t, ns, key, true
}

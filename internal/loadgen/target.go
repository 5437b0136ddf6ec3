package loadgen

import (
	"context"
	"fmt"
)

// Target is what a benchmark drives: one way to reach a grapevine peer.
// Its methods are called from many workers at once and must be safe for
// concurrent use; each blocks until the peer answered. A key or value
// slice is the caller's again when the method returns.
//
// A new door (RESP, gRPC) is one more Target: a client of that door
// whose Put returns once the peer acknowledged the write.
type Target interface {
	// Put writes value under key and returns once the peer acknowledged it.
	Put(ctx context.Context, key, value []byte) error
	// Get reads key; found is false if the peer has no value for it.
	Get(ctx context.Context, key []byte) (found bool, err error)
}

// KeyLen is the length of every key Key returns: 16 bytes, the key size of
// the published comparisons (issue 14).
const KeyLen = 16

// keyPrefix starts every benchmark key, so a watcher or a listing can tell
// them from other keys.
const keyPrefix = "b/"

// KeyPrefix is the prefix of every key Key returns.
func KeyPrefix() []byte { return []byte(keyPrefix) }

// Key returns the i-th key of a benchmark: "b/" and i in 14 decimal digits
// (KeyLen bytes, for i < 10¹⁴), so keys sort in the order they were
// written.
func Key(i uint64) []byte { return fmt.Appendf(make([]byte, 0, KeyLen), "%s%014d", keyPrefix, i) }

// KeyIndex returns the i of a key Key(i), or false for another key.
func KeyIndex(key []byte) (uint64, bool) {
	if len(key) != KeyLen || string(key[:len(keyPrefix)]) != keyPrefix {
		return 0, false
	}
	var i uint64
	for _, c := range key[len(keyPrefix):] {
		if c < '0' || c > '9' {
			return 0, false
		}
		i = i*10 + uint64(c-'0')
	}
	return i, true
}

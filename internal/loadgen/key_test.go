package loadgen_test

import (
	"bytes"
	"testing"

	"github.com/grapevine-kv/grapevine/internal/loadgen"
)

func TestKey(t *testing.T) {
	for _, i := range []uint64{0, 1, 42, 99_999_999_999_999} {
		k := loadgen.Key(i)
		if len(k) != loadgen.KeyLen || !bytes.HasPrefix(k, loadgen.KeyPrefix()) {
			t.Errorf("Key(%d) = %q: want %d bytes starting with %q", i, k, loadgen.KeyLen, loadgen.KeyPrefix())
		}
		if got, ok := loadgen.KeyIndex(k); !ok || got != i {
			t.Errorf("KeyIndex(Key(%d)) = %d, %v", i, got, ok)
		}
	}
	for _, k := range []string{"", "b/", "warmup/1", "b/0000000000000x", "b/000000000000001", "c/00000000000001"} {
		if _, ok := loadgen.KeyIndex([]byte(k)); ok {
			t.Errorf("KeyIndex(%q) accepted a key Key does not make", k)
		}
	}
}

// FuzzKeyIndex: KeyIndex accepts exactly the keys Key makes, and returns
// their index.
func FuzzKeyIndex(f *testing.F) {
	for _, s := range []string{"b/00000000000042", "b/", "warmup/1", "b/0000000000000x"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, key []byte) {
		i, ok := loadgen.KeyIndex(key)
		if ok != (ok && bytes.Equal(loadgen.Key(i), key)) {
			t.Fatalf("KeyIndex(%q) = %d, but Key(%d) = %q", key, i, i, loadgen.Key(i))
		}
	})
}

package loadgen_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/grapevine-kv/grapevine/internal/loadgen"
)

// mapTarget is a Target over a map: it keeps every value written and
// fails every put of a key in fail.
type mapTarget struct {
	mu     sync.Mutex
	kv     map[string][]byte
	writes int
	fail   map[uint64]bool
}

func newMapTarget() *mapTarget { return &mapTarget{kv: make(map[string][]byte)} }

func (m *mapTarget) Put(_ context.Context, key, value []byte) error {
	if i, _ := loadgen.KeyIndex(key); m.fail[i] {
		return errors.New("refused")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.kv[string(key)] = append([]byte(nil), value...)
	m.writes++
	return nil
}

func (m *mapTarget) Get(_ context.Context, key []byte) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.kv[string(key)]
	return ok, nil
}

func config(op loadgen.Op, requests uint64, targets ...loadgen.Target) loadgen.Config {
	cfg := loadgen.DefaultConfig()
	cfg.Op, cfg.Clients, cfg.Requests, cfg.Targets = op, 8, requests, targets
	return cfg
}

// TestPutsWriteDistinctKeys: every acknowledged put wrote a key of its
// own, of the value size asked, and every one is counted and timed.
func TestPutsWriteDistinctKeys(t *testing.T) {
	m := newMapTarget()
	cfg := config(loadgen.Put, 1000, m)
	cfg.First, cfg.ValueSize = 500, 33
	r, err := loadgen.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r.Puts != 1000 || r.Gets != 0 || r.Errors != 0 || r.Latency.Count() != 1000 || len(m.kv) != 1000 {
		t.Fatalf("puts %d gets %d errors %d timed %d, %d keys stored; want 1000 puts, all timed, 1000 keys", r.Puts, r.Gets, r.Errors, r.Latency.Count(), len(m.kv))
	}
	for k, v := range m.kv {
		if i, ok := loadgen.KeyIndex([]byte(k)); !ok || i < 500 || i >= 1500 || len(v) != 33 {
			t.Fatalf("stored %q (%d bytes): want keys 500..1499 of 33-byte values", k, len(v))
		}
	}
	if r.Throughput() <= 0 {
		t.Fatal("no throughput reported")
	}
}

// TestKeysWrapAround: after Keys puts the run writes its keys again.
func TestKeysWrapAround(t *testing.T) {
	m := newMapTarget()
	cfg := config(loadgen.Put, 100, m)
	cfg.Keys = 10
	if _, err := loadgen.Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if len(m.kv) != 10 || m.writes != 100 {
		t.Fatalf("%d keys after %d writes; want 10 after 100", len(m.kv), m.writes)
	}
}

// TestGetsReadPreloadedKeys: a get run first writes Preload keys, then
// reads only those, all found.
func TestGetsReadPreloadedKeys(t *testing.T) {
	m := newMapTarget()
	cfg := config(loadgen.Get, 500, m)
	cfg.Preload = 50
	r, err := loadgen.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.kv) != 50 || r.Gets != 500 || r.Misses != 0 || r.Puts != 0 {
		t.Fatalf("%d keys, %d gets, %d misses, %d timed puts; want 50 preloaded keys, 500 gets all found, no timed put", len(m.kv), r.Gets, r.Misses, r.Puts)
	}
}

// TestMixed: a mixed run reads and writes, the writes new keys after the
// preloaded ones.
func TestMixed(t *testing.T) {
	m := newMapTarget()
	cfg := config(loadgen.Mixed, 1000, m)
	cfg.Preload = 100
	r, err := loadgen.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r.Gets == 0 || r.Puts == 0 || r.Gets+r.Puts != 1000 || uint64(len(m.kv)) != 100+r.Puts || r.Misses != 0 {
		t.Fatalf("%d gets (%d missed), %d puts, %d keys; want both kinds, 1000 in all, 100+puts keys", r.Gets, r.Misses, r.Puts, len(m.kv))
	}
}

// TestErrorsCounted: failed operations are counted apart, with the first
// error kept; they are not in the latencies.
func TestErrorsCounted(t *testing.T) {
	m := newMapTarget()
	m.fail = map[uint64]bool{3: true, 7: true}
	r, err := loadgen.Run(context.Background(), config(loadgen.Put, 100, m))
	if err != nil {
		t.Fatal(err)
	}
	if r.Errors != 2 || r.Puts != 98 || r.Latency.Count() != 98 || r.FirstError == nil || !strings.Contains(r.FirstError.Error(), "refused") {
		t.Fatalf("errors %d (first %v), puts %d, timed %d; want 2 errors, 98 puts timed", r.Errors, r.FirstError, r.Puts, r.Latency.Count())
	}
}

func TestConfigValidate(t *testing.T) {
	cfg := loadgen.DefaultConfig()
	cfg.Clients, cfg.ReadFraction = 0, 2
	err := cfg.Validate()
	for _, want := range []string{"clients must be at least 1", "read fraction"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to say %q", err, want)
		}
	}
	if _, err := loadgen.Run(context.Background(), loadgen.DefaultConfig()); err == nil || !strings.Contains(err.Error(), "no target") {
		t.Errorf("Run without targets: %v, want it to say so", err)
	}
}

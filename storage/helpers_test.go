package storage

import (
	"bytes"
	"encoding/binary"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/internal/rangetree"
)

// tester is what the shared checkers need: *testing.T, *testing.B or
// *rapid.T.
type tester interface {
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

func helper(t tester) {
	if h, ok := t.(interface{ Helper() }); ok {
		h.Helper()
	}
}

// testWriter sends log lines to t.Log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// testOptions are fast options for tests: no fsync, no background jobs,
// logs to t.
func testOptions(t testing.TB) Config {
	o := DefaultConfig()
	o.SyncWrites = false
	o.PurgeInterval = 0
	o.ValueLogGCInterval = 0
	o.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return o
}

// opener opens a fresh store for a test (closed in cleanup). reopen, when
// not nil, closes db and opens the same store again (on-disk only).
type opener func(t *testing.T, opts Config) (db *DB, reopen func(*DB) *DB)

func diskOpener(t *testing.T, opts Config) (*DB, func(*DB) *DB) {
	dir := t.TempDir()
	open := func() *DB {
		db, err := Open(dir, opts)
		if err != nil {
			t.Fatalf("Open(%q): %v", dir, err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db
	}
	return open(), func(old *DB) *DB {
		if err := old.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		return open()
	}
}

func memOpener(t *testing.T, opts Config) (*DB, func(*DB) *DB) {
	opts.InMemory = true
	db, err := Open("", opts)
	if err != nil {
		t.Fatalf("Open in memory: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db, nil
}

func reg(t crdt.Timestamp, origin, value string) crdt.Register {
	return crdt.Register{Time: t, Origin: crdt.ReplicaID(origin), Value: []byte(value)}
}

func tomb(t crdt.Timestamp, origin string) crdt.Register {
	return crdt.Register{Time: t, Origin: crdt.ReplicaID(origin), Deleted: true}
}

func put(ns, key string, s crdt.State) Op { return Op{Namespace: ns, Key: []byte(key), State: s} }

func incr(ns, key, origin string, by int64) Op {
	return Op{Namespace: ns, Key: []byte(key), Incr: &Increment{Origin: crdt.ReplicaID(origin), By: by}}
}

// mustApply applies ops and fails on a batch error or any per-op error.
func mustApply(t tester, db *DB, ops ...Op) []Result {
	helper(t)
	res, err := db.Apply(ops)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if len(res) != len(ops) {
		t.Fatalf("Apply returned %d results for %d ops", len(res), len(ops))
	}
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("Apply op %d (%s %q): %v", i, ops[i].Namespace, ops[i].Key, r.Err)
		}
	}
	return res
}

func equalState(a, b crdt.State) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return bytes.Equal(crdt.Encode(a), crdt.Encode(b))
}

func mustGet(t tester, db *DB, ns string, typ crdt.Type, key string) crdt.State {
	helper(t)
	s, err := db.Get(ns, typ, []byte(key))
	if err != nil {
		t.Fatalf("Get(%s, %s, %q): %v", ns, typ, key, err)
	}
	return s
}

func counterValue(t tester, db *DB, ns, key string) int64 {
	helper(t)
	c, ok := mustGet(t, db, ns, crdt.TypeCounter, key).(crdt.Counter)
	if !ok {
		t.Fatalf("counter %q is not a crdt.Counter", key)
	}
	return c.Value()
}

// checkInvariants verifies, from the raw Badger contents, that every
// stored state has exactly one hash-index entry with the right
// fingerprint, that there are no other index entries, that the tombstone
// index lists exactly the stored tombstones, and that the in-memory trees
// and counts of each type equal those rebuilt from the data; and checks
// the change log (checkChangeLog).
func checkInvariants(t tester, db *DB) {
	helper(t)
	checkChangeLog(t, db)
	wantIndex := map[string]uint64{}
	wantTomb := map[string]bool{}
	wantTrees := map[string]*rangetree.Tree{}
	wantTypes := map[nsType]uint64{}
	gotIndex := map[string]uint64{}
	gotTomb := map[string]bool{}
	err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.DefaultIteratorOptions)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			k := item.KeyCopy(nil)
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			switch k[0] {
			case tagData:
				ns, rest, ok := splitNS(k[1:])
				if !ok || len(rest) < 2 {
					t.Errorf("bad data key %q", k)
					continue
				}
				typ, key := crdt.Type(rest[0]), rest[1:]
				s, err := decodeState(v, typ)
				if err != nil {
					t.Errorf("data %q: %v", k, err)
					continue
				}
				h, fp := PlacementHash(typ, key), ItemHash(typ, key, v)
				wantIndex[string(hashKey(string(ns), h, typ, key))] = fp
				tr := wantTrees[string(ns)]
				if tr == nil {
					tr = rangetree.New()
					wantTrees[string(ns)] = tr
				}
				tr.Add(h, Summary{Count: 1, Hash: fp})
				wantTypes[nsType{string(ns), typ}]++
				if r, ok := s.(crdt.Register); ok && purgeTime(r) != 0 {
					wantTomb[string(tombKey(purgeTime(r), string(ns), key))] = true
				}
			case tagHash:
				if len(v) != 8 {
					t.Errorf("index %q: value of %d bytes", k, len(v))
					continue
				}
				gotIndex[string(k)] = binary.BigEndian.Uint64(v)
			case tagTomb:
				gotTomb[string(k)] = true
			case tagMeta, tagLog: // the change log: checkChangeLog
			default:
				t.Errorf("unexpected key %q", k)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	for k, fp := range wantIndex {
		if got, ok := gotIndex[k]; !ok || got != fp {
			t.Errorf("index %q: got %x (present %v), want %x", k, got, ok, fp)
		}
	}
	for k := range gotIndex {
		if _, ok := wantIndex[k]; !ok {
			t.Errorf("stray index entry %q", k)
		}
	}
	for k := range wantTomb {
		if !gotTomb[k] {
			t.Errorf("missing tombstone index entry %q", k)
		}
	}
	for k := range gotTomb {
		if !wantTomb[k] {
			t.Errorf("stray tombstone index entry %q", k)
		}
	}
	db.trees.RLock()
	defer db.trees.RUnlock()
	if !treesEqual(db.trees.byNS, wantTrees) {
		t.Errorf("in-memory trees differ from trees rebuilt from data (namespaces %v vs %v)",
			mapKeys(db.trees.byNS), mapKeys(wantTrees))
	}
	if !maps.Equal(db.trees.types, wantTypes) {
		t.Errorf("in-memory counts of each type %v, want %v (from the data)", db.trees.types, wantTypes)
	}
}

func treesEqual(a, b map[string]*rangetree.Tree) bool { return sameNodes(treeNodes(a), treeNodes(b)) }

func sameNodes(a, b map[string][]Summary) bool {
	return maps.EqualFunc(a, b, func(x, y []Summary) bool { return slices.Equal(x, y) })
}

// treeNodes copies the summaries of every node of each tree, level by
// level, for comparing trees across a reopen.
func treeNodes(trees map[string]*rangetree.Tree) map[string][]Summary {
	out := make(map[string][]Summary, len(trees))
	for ns, t := range trees {
		var nodes []Summary
		for l := 0; l <= rangetree.LeafLevel; l++ {
			for i := range uint64(1) << (4 * l) {
				nodes = append(nodes, t.Node(l, i))
			}
		}
		out[ns] = nodes
	}
	return out
}

func mapKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// bruteSummary sums the items Items yields for [lo, hi].
func bruteSummary(t tester, db *DB, ns string, lo, hi uint64) Summary {
	helper(t)
	var s Summary
	err := db.Items(ns, lo, hi, func(it Item) error {
		s.Count++
		s.Hash += it.Fingerprint
		return nil
	})
	if err != nil {
		t.Fatalf("Items: %v", err)
	}
	return s
}

// leafRange is the hash range of leaf i of the range tree.
func leafRange(i uint64) rangetree.Range { return rangetree.NodeRange(rangetree.LeafLevel, i) }

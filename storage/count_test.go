package storage

import (
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/crdt"
)

func TestCount(t *testing.T) {
	for name, open := range map[string]opener{"disk": diskOpener, "memory": memOpener} {
		t.Run(name, func(t *testing.T) {
			db, reopen := open(t, testOptions(t))
			now := crdt.NewTimestamp(time.Now().UnixMilli(), 0)
			mustApply(t, db,
				put("a", "k1", reg(now, "r", "v")),
				put("a", "k2", reg(now, "r", "v")),
				put("a", "k3", tomb(now, "r")),
				incr("a", "c1", "r", 2),
				put("b", "k1", tomb(now, "r")),
			)
			mustApply(t, db, put("a", "k1", tomb(now+1, "r"))) // a live key becomes a tombstone
			want := map[string]Counts{
				"a": {ByType: map[crdt.Type]uint64{crdt.TypeRegister: 3, crdt.TypeCounter: 1}, Tombstones: 2},
				"b": {ByType: map[crdt.Type]uint64{crdt.TypeRegister: 1}, Tombstones: 1},
			}
			check := func(db *DB) {
				t.Helper()
				got, err := db.Count()
				if err != nil {
					t.Fatal(err)
				}
				if !maps.EqualFunc(got, want, func(x, y Counts) bool { return x.Tombstones == y.Tombstones && maps.Equal(x.ByType, y.ByType) }) {
					t.Fatalf("Count() = %v, want %v", got, want)
				}
			}
			check(db)
			if reopen != nil {
				check(reopen(db))
			}
		})
	}
}

// TestCountBytes: a namespace's Bytes grows with the size of its values.
func TestCountBytes(t *testing.T) {
	db, _ := diskOpener(t, testOptions(t))
	now := crdt.NewTimestamp(time.Now().UnixMilli(), 0)
	mustApply(t, db, put("small", "k", reg(now, "r", "v")), put("big", "k", reg(now, "r", strings.Repeat("x", 4000))))
	got, err := db.Count()
	if err != nil {
		t.Fatal(err)
	}
	if s, b := got["small"].Bytes, got["big"].Bytes; s == 0 || b < 4000 || b <= s {
		t.Fatalf("Bytes: small %d, big %d; want small > 0 and big ≥ 4000", s, b)
	}
}

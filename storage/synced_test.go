package storage

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/crdt"
)

func testSyncedMarks(t *testing.T, open opener) {
	db, reopen := open(t, testOptions(t))
	if m, err := db.SyncedMarks(); err != nil || len(m) != 0 {
		t.Fatalf("SyncedMarks of a new store = %v, %v; want none", m, err)
	}
	a, b := time.UnixMilli(1_700_000_000_123), time.UnixMilli(1_700_000_999_000)
	for _, set := range []struct {
		ns string
		t  time.Time
	}{{"default", a}, {"other", a}, {"default", b}} {
		if err := db.SetSyncedMark(set.ns, set.t); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.SetSyncedMark("Bad/NS", a); !errors.Is(err, ErrInvalidNamespace) {
		t.Errorf("SetSyncedMark(invalid namespace) = %v, want ErrInvalidNamespace", err)
	}
	if reopen != nil {
		db = reopen(db)
	}
	m, err := db.SyncedMarks()
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 2 || !m["default"].Equal(b) || !m["other"].Equal(a) {
		t.Errorf("SyncedMarks = %v, want default=%v other=%v", m, b, a)
	}
	if ns := db.Namespaces(); len(ns) != 0 {
		t.Errorf("marks made namespaces appear: %v", ns)
	}
}

func testDropStale(t *testing.T, open opener) {
	db, _ := open(t, testOptions(t))
	ts := func(ms int64) crdt.Timestamp { return crdt.NewTimestamp(ms, 0) }
	mustApply(t, db,
		put("default", "stale", reg(ts(1000), "a", "v")),
		put("default", "changed", reg(ts(1000), "a", "v")),
		put("default", "kept", reg(ts(1000), "a", "v")),
		put("other", "stale", reg(ts(1000), "a", "v")),
	)
	var items []Item
	if err := db.Items("default", 0, math.MaxUint64, func(it Item) error {
		if string(it.Key) != "kept" {
			it.Key = append([]byte(nil), it.Key...)
			items = append(items, it)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	mustApply(t, db, put("default", "changed", reg(ts(2000), "a", "newer")))
	n, err := db.DropStale("default", items)
	if err != nil || n != 1 {
		t.Fatalf("DropStale = %d, %v; want 1 (the changed state stays)", n, err)
	}
	if _, err := db.Get("default", crdt.TypeRegister, []byte("stale")); !errors.Is(err, ErrNotFound) {
		t.Errorf("dropped state still readable: %v", err)
	}
	for _, k := range []string{"changed", "kept"} {
		mustGet(t, db, "default", crdt.TypeRegister, k)
	}
	mustGet(t, db, "other", crdt.TypeRegister, "stale")
	if s := db.Summarize("default", 0, math.MaxUint64); s.Count != 2 {
		t.Errorf("tree count after drop = %d, want 2", s.Count)
	}
	checkInvariants(t, db)
}

func TestPurgeIntervalFollowsGrace(t *testing.T) {
	for _, grace := range []time.Duration{time.Second, time.Hour, DefaultTombstoneGrace, 365 * 24 * time.Hour} {
		cfg := DefaultConfig()
		cfg.TombstoneGrace, cfg.PurgeInterval = grace, PurgeIntervalFor(grace)
		if err := cfg.Validate(); err != nil {
			t.Errorf("grace %s: %v", grace, err)
		}
		if lifetime := grace + cfg.PurgeInterval; lifetime > grace+grace/4 {
			t.Errorf("grace %s: a tombstone may live %s, more than 1.25× the grace", grace, lifetime)
		}
	}
	if DefaultConfig().PurgeInterval != time.Hour {
		t.Errorf("default purge interval = %s, want 1h", DefaultConfig().PurgeInterval)
	}
	cfg := DefaultConfig()
	cfg.TombstoneGrace = time.Hour // PurgeInterval left at 1h
	if err := cfg.Validate(); err == nil {
		t.Error("Validate accepted a purge interval longer than a quarter of the grace")
	}
}

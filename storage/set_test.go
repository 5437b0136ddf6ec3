package storage

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/crdt"
)

func setOp(key, origin string, remove bool, members ...string) Op {
	op := &SetOp{Origin: crdt.ReplicaID(origin), Remove: remove}
	for _, m := range members {
		op.Members = append(op.Members, []byte(m))
	}
	return Op{Namespace: "default", Key: []byte(key), Set: op}
}

func members(t tester, db *DB, key string) []string {
	helper(t)
	s, _ := mustGet(t, db, "default", crdt.TypeSet, key).(crdt.Set)
	var out []string
	for _, m := range s.Members() {
		out = append(out, string(m))
	}
	return out
}

// TestApplySetOps: set adds and removes are computed from the stored set
// inside Apply, survive a reopen, and merge with another replica's
// concurrent add (add wins).
func TestApplySetOps(t *testing.T) {
	db, reopen := diskOpener(t, testOptions(t))
	res := mustApply(t, db, setOp("s", "a", false, "x", "y"), setOp("s", "a", false, "z"))
	if !res[0].Changed || res[0].Delta == nil {
		t.Fatalf("add: %+v", res[0])
	}
	// Another replica saw x and y, and adds x again concurrently with our remove.
	remote, _ := res[0].Delta.(crdt.Set).Add("b", []byte("x"))
	mustApply(t, db, setOp("s", "a", true, "x", "absent"))
	if got := members(t, db, "s"); !slices.Equal(got, []string{"y", "z"}) {
		t.Fatalf("after remove: %q", got)
	}
	mustApply(t, db, put("default", "s", remote))
	db = reopen(db)
	if got := members(t, db, "s"); !slices.Equal(got, []string{"x", "y", "z"}) {
		t.Fatalf("after the concurrent add: %q, want x back", got)
	}
	// Removing what is not there changes nothing.
	if res := mustApply(t, db, setOp("s", "a", true, "nope")); res[0].Changed {
		t.Fatalf("removing a non-member changed the set")
	}
	checkInvariants(t, db)

	for _, c := range []struct {
		name string
		op   Op
		want error
	}{
		{"no members", setOp("s", "a", false), ErrInvalidArgument},
		{"empty member", setOp("s", "a", false, ""), ErrInvalidArgument},
		{"member too long", setOp("s", "a", false, string(make([]byte, crdt.MaxMemberLen+1))), ErrInvalidArgument},
		{"two kinds", func() Op { o := setOp("s", "a", false, "x"); o.Incr = &Increment{Origin: "a", By: 1}; return o }(), ErrInvalidArgument},
		{"over MaxSize", func() Op { o := setOp("s", "a", false, "big"); o.Set.MaxSize = 10; return o }(), ErrTooLarge},
	} {
		res, err := db.Apply([]Op{c.op})
		if err != nil || !errors.Is(res[0].Err, c.want) {
			t.Errorf("%s: %v, %v; want %v", c.name, err, res[0].Err, c.want)
		}
	}
	if got := members(t, db, "s"); !slices.Equal(got, []string{"x", "y", "z"}) {
		t.Fatalf("refused ops changed the set: %q", got)
	}
}

// TestCounterResetPurge: a reset takes the counter to 0; a reset counter is
// purged once its reset is older than the grace, like a tombstone, but not
// one incremented since.
func TestCounterResetPurge(t *testing.T) {
	now := time.UnixMilli(10_000_000_000)
	opts := testOptions(t)
	opts.TombstoneGrace = time.Hour
	opts.Now = func() time.Time { return now }
	db, reopen := diskOpener(t, opts)
	at := crdt.NewTimestamp(now.UnixMilli(), 0)
	reset := func(key string) Op {
		return Op{Namespace: "default", Key: []byte(key), Reset: &CounterReset{Origin: "a", Time: at}}
	}
	mustApply(t, db, incr("default", "gone", "a", 5), incr("default", "gone", "b", -2),
		incr("default", "again", "a", 5), incr("default", "kept", "a", 1))
	res := mustApply(t, db, reset("gone"), reset("again"), reset("absent"))
	if !res[0].Changed || res[2].Changed || res[2].Err != nil {
		t.Fatalf("reset results: %+v", res)
	}
	mustApply(t, db, incr("default", "again", "b", 2))
	for key, want := range map[string]int64{"gone": 0, "again": 2, "kept": 1} {
		if v := counterValue(t, db, "default", key); v != want {
			t.Errorf("%s = %d, want %d", key, v, want)
		}
	}
	db = reopen(db)
	if n, err := db.PurgeTombstones(); err != nil || n != 0 {
		t.Fatalf("purge within the grace = %d, %v", n, err)
	}
	now = now.Add(time.Hour + time.Millisecond)
	if n, err := db.PurgeTombstones(); err != nil || n != 1 {
		t.Fatalf("purge after the grace = %d, %v; want 1", n, err)
	}
	if _, err := db.Get("default", crdt.TypeCounter, []byte("gone")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("reset counter survived the purge: %v", err)
	}
	for _, key := range []string{"again", "kept"} {
		mustGet(t, db, "default", crdt.TypeCounter, key)
	}
	checkInvariants(t, db)
}

// TestGetTypes reads several types of one name in one snapshot: what Get
// returns for each, nil where a type has nothing, and Get's errors.
func TestGetTypes(t *testing.T) {
	db, _ := diskOpener(t, testOptions(t))
	mustApply(t, db, put("default", "k", reg(5, "a", "v")), incr("default", "k", "a", 3))
	types := []crdt.Type{crdt.TypeRegister, crdt.TypeCounter, crdt.TypeSet}
	got, err := db.GetTypes("default", []byte("k"), types...)
	if err != nil {
		t.Fatal(err)
	}
	for i, typ := range types {
		want, err := db.Get("default", typ, []byte("k"))
		if errors.Is(err, ErrNotFound) {
			want = nil
		} else if err != nil {
			t.Fatal(err)
		}
		if !equalState(got[i], want) {
			t.Errorf("%s: GetTypes %v, Get %v", typ, got[i], want)
		}
	}
	if got[0] == nil || got[1] == nil || got[2] != nil {
		t.Fatalf("GetTypes = %v: want a register, a counter and no set", got)
	}
	if _, err := db.GetTypes("", []byte("k"), types...); !errors.Is(err, ErrInvalidNamespace) {
		t.Fatalf("empty namespace: %v", err)
	}
}

// TestGetTypesCountsSurviveReopen: GetTypes skips the read of a type its
// namespace holds nothing of, by counts rebuilt from disk at Open, so a
// reopened store still finds a type it holds once, and each namespace
// counts its own.
func TestGetTypesCountsSurviveReopen(t *testing.T) {
	db, reopen := diskOpener(t, testOptions(t))
	mustApply(t, db, incr("default", "c", "a", 3), put("other", "c", reg(5, "a", "v")))
	db = reopen(db)
	checkInvariants(t, db)
	all := []crdt.Type{crdt.TypeRegister, crdt.TypeCounter, crdt.TypeSet}
	got, err := db.GetTypes("default", []byte("c"), all...)
	if err != nil {
		t.Fatal(err)
	}
	if got[0] != nil || got[1] == nil || got[2] != nil {
		t.Fatalf("default: GetTypes = %v: want the counter alone", got)
	}
	if got, err = db.GetTypes("other", []byte("c"), all...); err != nil || got[0] == nil || got[1] != nil || got[2] != nil {
		t.Fatalf("other: GetTypes = %v, %v: want the register alone", got, err)
	}
}

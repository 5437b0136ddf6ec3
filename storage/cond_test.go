package storage

import (
	"errors"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/crdt"
)

// fakeNow is a settable wall clock for Config.Now.
type fakeNow struct{ ms int64 }

func (f *fakeNow) now() time.Time { return time.UnixMilli(f.ms) }

func ttlReg(t crdt.Timestamp, value string, expires int64) crdt.Register {
	return crdt.Register{Time: t, Origin: "a", Value: []byte(value), Expires: expires}
}

func TestApplyConditions(t *testing.T) {
	clock := &fakeNow{ms: 100}
	opts := testOptions(t)
	opts.Now = clock.now
	db, _ := diskOpener(t, opts)
	v1 := crdt.NewTimestamp(10, 0)
	mustApply(t, db, put("ns", "live", reg(v1, "a", "x")))
	mustApply(t, db, put("ns", "gone", tomb(v1, "a")))
	mustApply(t, db, put("ns", "expired", ttlReg(v1, "x", 50)))
	next := crdt.NewTimestamp(20, 0)
	for _, tt := range []struct {
		name, key string
		cond      Cond
		ok        bool
	}{
		{"absent key is absent", "none", Cond{Absent: true}, true},
		{"tombstone is absent", "gone", Cond{Absent: true}, true},
		{"expired is absent", "expired", Cond{Absent: true}, true},
		{"live is not absent", "live", Cond{Absent: true}, false},
		{"right version", "live", Cond{Version: v1}, true},
		{"wrong version", "live", Cond{Version: next + 5}, false},
		{"version of a tombstone", "gone", Cond{Version: v1}, false},
		{"version of an expired value", "expired", Cond{Version: v1}, false},
		{"version of an absent key", "none", Cond{Version: v1}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := db.Get("ns", crdt.TypeRegister, []byte(tt.key))
			cond := tt.cond
			op := put("ns", tt.key, reg(next, "a", "new"))
			op.Cond = &cond
			res, err := db.ApplyTxn([]Op{op}) // one op: the same as Apply
			if err != nil {
				t.Fatal(err)
			}
			after, _ := db.Get("ns", crdt.TypeRegister, []byte(tt.key))
			if tt.ok {
				if res[0].Err != nil || !res[0].Changed || !equalState(after, op.State) {
					t.Fatalf("result %+v, stored %#v; want the write applied", res[0], after)
				}
				return
			}
			if !errors.Is(res[0].Err, ErrConditionFailed) || res[0].Changed {
				t.Fatalf("result %+v, want ErrConditionFailed", res[0])
			}
			if !equalState(after, before) || !equalState(res[0].State, before) {
				t.Fatalf("a refused write changed %#v to %#v (result state %#v)", before, after, res[0].State)
			}
		})
	}
	// Through Apply too, checked against the batch's earlier ops.
	first := put("ns", "batch", reg(next, "a", "1"))
	first.Cond = &Cond{Absent: true}
	second := put("ns", "batch", reg(next+1, "a", "2"))
	second.Cond = &Cond{Absent: true}
	res, _ := db.Apply([]Op{first, second})
	if res[0].Err != nil || !errors.Is(res[1].Err, ErrConditionFailed) {
		t.Fatalf("two put-if-absent in one batch: %v, %v", res[0].Err, res[1].Err)
	}
	bad := incr("ns", "c", "a", 1)
	bad.Cond = &Cond{Absent: true}
	if res, _ := db.Apply([]Op{bad}); !errors.Is(res[0].Err, ErrInvalidArgument) {
		t.Fatalf("a conditional increment: %v, want ErrInvalidArgument", res[0].Err)
	}
	checkInvariants(t, db)
}

func TestApplyTxnAllOrNothing(t *testing.T) {
	db, _ := diskOpener(t, testOptions(t))
	v1 := crdt.NewTimestamp(10, 0)
	mustApply(t, db, put("ns", "b", reg(v1, "a", "old")))
	ok := put("ns", "a", reg(v1+1, "a", "1"))
	refused := put("ns", "b", reg(v1+2, "a", "2"))
	refused.Cond = &Cond{Absent: true}
	res, err := db.ApplyTxn([]Op{ok, incr("ns", "c", "a", 2), refused})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(res[2].Err, ErrConditionFailed) || !errors.Is(res[0].Err, ErrAborted) || !errors.Is(res[1].Err, ErrAborted) {
		t.Fatalf("results %v, %v, %v", res[0].Err, res[1].Err, res[2].Err)
	}
	if _, err := db.Get("ns", crdt.TypeRegister, []byte("a")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a refused transaction wrote a: %v", err)
	}
	if _, err := db.Get("ns", crdt.TypeCounter, []byte("c")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a refused transaction wrote the counter c: %v", err)
	}
	refused.Cond = &Cond{Version: v1}
	res, err = db.ApplyTxn([]Op{ok, incr("ns", "c", "a", 2), incr("ns", "c", "a", 3), refused})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Err != nil || !r.Changed {
			t.Fatalf("op %d: %+v", i, r)
		}
	}
	if v := counterValue(t, db, "ns", "c"); v != 5 {
		t.Fatalf("counter = %d, want 5", v)
	}
	checkInvariants(t, db)
}

func TestExpiryReadsPurgeAndIndex(t *testing.T) {
	clock := &fakeNow{ms: 100}
	opts := testOptions(t)
	opts.Now = clock.now
	opts.TombstoneGrace = time.Second
	db, reopen := diskOpener(t, opts)
	mustApply(t, db,
		put("ns", "a", ttlReg(crdt.NewTimestamp(10, 0), "1", 200)),
		put("ns", "b", ttlReg(crdt.NewTimestamp(10, 0), "2", 300)),
		put("ns", "c", reg(crdt.NewTimestamp(10, 0), "a", "3")),
	)
	list := func() []string {
		es, err := db.List("ns", ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, e := range es {
			keys = append(keys, string(e.Key))
		}
		return keys
	}
	if got := list(); len(got) != 3 {
		t.Fatalf("before expiry: %v", got)
	}
	clock.ms = 250
	if got := list(); len(got) != 2 || got[0] != "b" {
		t.Fatalf("after a expired: %v, want [b c]", got)
	}
	exp, err := db.Expiring(crdt.NewTimestamp(0, 0), crdt.NewTimestamp(clock.ms+1, 0))
	if err != nil || len(exp) != 1 || string(exp[0].Key) != "a" {
		t.Fatalf("Expiring = %+v, %v; want a", exp, err)
	}
	// A new put refreshes: b gets a later expiry, and its old index entry goes.
	mustApply(t, db, put("ns", "b", ttlReg(crdt.NewTimestamp(20, 0), "2", 5000)))
	checkInvariants(t, db)
	clock.ms = 200 + 1000 + 1 // a's grace has passed, b's not
	if n, err := db.PurgeTombstones(); err != nil || n != 1 {
		t.Fatalf("PurgeTombstones = %d, %v; want 1", n, err)
	}
	if _, err := db.Get("ns", crdt.TypeRegister, []byte("a")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the expired a was not reclaimed: %v", err)
	}
	db = reopen(db)
	checkInvariants(t, db)
	if _, err := db.Get("ns", crdt.TypeRegister, []byte("b")); err != nil {
		t.Fatalf("b: %v", err)
	}
}

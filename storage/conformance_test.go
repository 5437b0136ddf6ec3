package storage

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/crdt"
)

func TestConformanceDisk(t *testing.T)   { runConformance(t, diskOpener) }
func TestConformanceMemory(t *testing.T) { runConformance(t, memOpener) }

// runConformance is the storage contract, run against every backend.
func runConformance(t *testing.T, open opener) {
	cases := []struct {
		name string
		fn   func(*testing.T, opener)
	}{
		{"RegisterMerge", testRegisterMerge},
		{"Tombstones", testTombstones},
		{"Counters", testCounters},
		{"SignedIncrement", testSignedIncrement},
		{"TypesSeparate", testTypesSeparate},
		{"PerOpErrors", testPerOpErrors},
		{"ListPagination", testListPagination},
		{"NamespaceIsolation", testNamespaceIsolation},
		{"ItemsAndStates", testItemsAndStates},
		{"Summarize", testSummarize},
		{"SummarizeProperty", testSummarizeProperty},
		{"ClockMark", testClockMark},
		{"Purge", testPurge},
		{"SyncedMarks", testSyncedMarks},
		{"DropStale", testDropStale},
		{"Reopen", testReopen},
		{"Close", testClose},
		{"ConcurrentApplyAndSummarize", testConcurrent},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.fn(t, open) })
	}
}

func testRegisterMerge(t *testing.T, open opener) {
	db, _ := open(t, testOptions(t))
	res := mustApply(t, db, put("default", "k", reg(10, "a", "v10")))
	if !res[0].Changed || !equalState(res[0].Delta, reg(10, "a", "v10")) || !equalState(res[0].State, reg(10, "a", "v10")) {
		t.Fatalf("first write: %+v", res[0])
	}
	// An older write loses; the result reports the stored winner.
	res = mustApply(t, db, put("default", "k", reg(5, "z", "v5")))
	if res[0].Changed || res[0].Delta != nil || !equalState(res[0].State, reg(10, "a", "v10")) {
		t.Fatalf("older write: %+v", res[0])
	}
	// Re-applying the same state changes nothing (idempotent).
	if res = mustApply(t, db, put("default", "k", reg(10, "a", "v10"))); res[0].Changed {
		t.Fatalf("duplicate write changed the state")
	}
	// Same time: the greater origin wins.
	if res = mustApply(t, db, put("default", "k", reg(10, "b", "tie"))); !res[0].Changed {
		t.Fatalf("same time, greater origin did not win")
	}
	// Newer wins; in one batch, later ops see earlier ones.
	res = mustApply(t, db,
		put("default", "k", reg(20, "a", "v20")),
		put("default", "k", reg(15, "a", "v15")),
		put("default", "k", reg(30, "a", "v30")),
	)
	if !res[0].Changed || res[1].Changed || !res[2].Changed {
		t.Fatalf("batch changes: %v %v %v", res[0].Changed, res[1].Changed, res[2].Changed)
	}
	if !equalState(res[1].State, reg(20, "a", "v20")) {
		t.Fatalf("op 1 saw %v, want the batch's earlier write", res[1].State)
	}
	if got := mustGet(t, db, "default", crdt.TypeRegister, "k"); !equalState(got, reg(30, "a", "v30")) {
		t.Fatalf("Get = %+v, want v30", got)
	}
	if _, err := db.Get("default", crdt.TypeRegister, []byte("absent")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get(absent) = %v, want ErrNotFound", err)
	}
	checkInvariants(t, db)
}

func testTombstones(t *testing.T, open opener) {
	db, _ := open(t, testOptions(t))
	mustApply(t, db, put("default", "k", reg(10, "a", "v")))
	// A tombstone with a stray value is stored and published without it.
	res := mustApply(t, db, put("default", "k", crdt.Register{Time: 20, Origin: "a", Deleted: true, Value: []byte("junk")}))
	if !res[0].Changed || !equalState(res[0].Delta, tomb(20, "a")) {
		t.Fatalf("tombstone result: %+v", res[0])
	}
	if d := res[0].Delta.(crdt.Register); d.Value != nil {
		t.Fatalf("published tombstone carries value %q", d.Value)
	}
	got := mustGet(t, db, "default", crdt.TypeRegister, "k")
	if r, ok := got.(crdt.Register); !ok || !r.Deleted || r.Time != 20 {
		t.Fatalf("Get after delete = %+v, want a tombstone at 20", got)
	}
	// An older write does not resurrect the key; a newer one does.
	if res = mustApply(t, db, put("default", "k", reg(15, "z", "old"))); res[0].Changed {
		t.Fatalf("older write resurrected a deleted key")
	}
	if res = mustApply(t, db, put("default", "k", reg(25, "a", "back"))); !res[0].Changed {
		t.Fatalf("newer write after delete did not win")
	}
	// Tombstone replaced by a newer tombstone.
	mustApply(t, db, put("default", "k", tomb(30, "a")), put("default", "k", tomb(40, "a")))
	checkInvariants(t, db)
}

// testSignedIncrement: Increment.Sign gets the new slot unsigned, its
// signature is stored and returned in the delta; a Sign error refuses the
// op and changes nothing.
func testSignedIncrement(t *testing.T, open opener) {
	db, _ := open(t, testOptions(t))
	var seen []crdt.Slot
	sign := func(s crdt.Slot) (string, error) {
		seen = append(seen, s)
		return fmt.Sprintf("sig(%d,%d)", s.P, s.N), nil
	}
	op := func(by int64, sign func(crdt.Slot) (string, error)) Op {
		return Op{Namespace: "default", Key: []byte("c"), Incr: &Increment{Origin: "a", By: by, Sign: sign}}
	}
	res := mustApply(t, db, op(5, sign), op(-2, sign))
	if want := []crdt.Slot{{P: 5}, {P: 5, N: 2}}; !slices.Equal(seen, want) {
		t.Fatalf("Sign saw %v, want %v", seen, want)
	}
	if d := res[1].Delta.(crdt.Counter); d.Slot("a") != (crdt.Slot{P: 5, N: 2, Sig: "sig(5,2)"}) {
		t.Fatalf("delta slot = %+v", d.Slot("a"))
	}
	st, err := db.Get("default", crdt.TypeCounter, []byte("c"))
	if err != nil || st.(crdt.Counter).Slot("a") != (crdt.Slot{P: 5, N: 2, Sig: "sig(5,2)"}) {
		t.Fatalf("stored %#v, %v", st, err)
	}
	boom := errors.New("boom")
	res, _ = db.Apply([]Op{op(1, func(crdt.Slot) (string, error) { return "", boom })})
	if !errors.Is(res[0].Err, boom) || res[0].Changed {
		t.Fatalf("failing Sign: %+v", res[0])
	}
	if v := counterValue(t, db, "default", "c"); v != 3 {
		t.Fatalf("value = %d after a refused increment, want 3", v)
	}
	checkInvariants(t, db)
}

func testCounters(t *testing.T, open opener) {
	db, _ := open(t, testOptions(t))
	res := mustApply(t, db, incr("default", "c", "a", 5), incr("default", "c", "a", -2), incr("default", "c", "b", 10))
	if v := counterValue(t, db, "default", "c"); v != 13 {
		t.Fatalf("value = %d, want 13", v)
	}
	// Each Incr's delta holds only its origin's slot, cumulative.
	d1 := res[1].Delta.(crdt.Counter)
	if d1.Len() != 1 || d1.Slot("a") != (crdt.Slot{P: 5, N: 2}) {
		t.Fatalf("delta of second incr = %v", d1.Replicas())
	}
	if c := res[2].State.(crdt.Counter); c.Value() != 13 {
		t.Fatalf("result state value = %d", c.Value())
	}
	// Re-delivering an old delta never double-counts; a remote state merges per slot.
	if res = mustApply(t, db, put("default", "c", d1)); res[0].Changed {
		t.Fatalf("re-delivered delta changed the counter")
	}
	remote := crdt.NewCounter(map[crdt.ReplicaID]crdt.Slot{"a": {P: 1}, "b": {P: 12}, "c": {N: 4}})
	res = mustApply(t, db, put("default", "c", remote))
	if !res[0].Changed {
		t.Fatalf("remote state with new slots did not change the counter")
	}
	// a stays {5,2} (max), b becomes 12, c −4: 3 + 12 − 4.
	if v := counterValue(t, db, "default", "c"); v != 11 {
		t.Fatalf("value after remote merge = %d, want 11", v)
	}
	// Empty and zero deltas change nothing and store nothing.
	res = mustApply(t, db, put("default", "e", crdt.Counter{}), incr("default", "e", "a", 0))
	if res[0].Changed || res[1].Changed {
		t.Fatalf("empty delta changed state")
	}
	if _, err := db.Get("default", crdt.TypeCounter, []byte("e")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("empty delta stored a counter: %v", err)
	}
	checkInvariants(t, db)
}

func testTypesSeparate(t *testing.T, open opener) {
	db, _ := open(t, testOptions(t))
	mustApply(t, db, put("default", "x", reg(1, "a", "reg")), incr("default", "x", "a", 7))
	if r := mustGet(t, db, "default", crdt.TypeRegister, "x").(crdt.Register); string(r.Value) != "reg" {
		t.Fatalf("register x = %q", r.Value)
	}
	if v := counterValue(t, db, "default", "x"); v != 7 {
		t.Fatalf("counter x = %d", v)
	}
	regs, err := db.List("default", ListOptions{})
	if err != nil || len(regs) != 1 {
		t.Fatalf("List registers = %v, %v", regs, err)
	}
	ctrs, err := db.List("default", ListOptions{Type: crdt.TypeCounter})
	if err != nil || len(ctrs) != 1 || ctrs[0].State.Type() != crdt.TypeCounter {
		t.Fatalf("List counters = %v, %v", ctrs, err)
	}
	if s := db.Summarize("default", 0, math.MaxUint64); s.Count != 2 {
		t.Fatalf("Summarize count = %d, want 2 items", s.Count)
	}
}

func testPerOpErrors(t *testing.T, open opener) {
	db, _ := open(t, testOptions(t))
	mustApply(t, db, incr("default", "big", "a", math.MaxInt64))
	ops := []Op{
		put("default", "ok1", reg(1, "a", "1")),
		put("Bad-NS", "k", reg(1, "a", "x")),
		put("", "k", reg(1, "a", "x")),
		put("default", "", reg(1, "a", "x")),
		put("default", strings.Repeat("k", MaxKeyLen+1), reg(1, "a", "x")),
		{Namespace: "default", Key: []byte("k")},
		{Namespace: "default", Key: []byte("k"), State: reg(1, "a", "x"), Incr: &Increment{Origin: "a", By: 1}},
		incr("default", "big", "a", 1),
		put("default", "k", crdt.Register{Time: 1, Origin: crdt.ReplicaID(strings.Repeat("o", crdt.MaxReplicaIDLen+1))}),
		put("default", "k", &crdt.Register{Time: 1}),
		put("default", "ok2", reg(1, "a", "2")),
		put("default", strings.Repeat("k", MaxKeyLen), reg(1, "a", "max key")),
	}
	want := []error{nil, ErrInvalidNamespace, ErrInvalidNamespace, ErrInvalidKey, ErrInvalidKey,
		ErrInvalidArgument, ErrInvalidArgument, crdt.ErrOverflow, ErrInvalidArgument, ErrInvalidArgument, nil, nil}
	res, err := db.Apply(ops)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	for i, r := range res {
		if !errors.Is(r.Err, want[i]) || (want[i] == nil) != (r.Err == nil) {
			t.Errorf("op %d: err = %v, want %v", i, r.Err, want[i])
		}
		if r.Err != nil && (r.Changed || r.Delta != nil) {
			t.Errorf("op %d: refused but reports a change", i)
		}
	}
	for _, k := range []string{"ok1", "ok2", strings.Repeat("k", MaxKeyLen)} {
		mustGet(t, db, "default", crdt.TypeRegister, k)
	}
	if _, err := db.Get("default", crdt.TypeRegister, []byte("k")); !errors.Is(err, ErrNotFound) {
		t.Errorf("refused op was stored: %v", err)
	}
	if v := counterValue(t, db, "default", "big"); v != math.MaxInt64 {
		t.Errorf("overflowing incr changed the counter to %d", v)
	}
	// Reads validate too.
	if _, err := db.Get("no/slash", crdt.TypeRegister, []byte("k")); !errors.Is(err, ErrInvalidNamespace) {
		t.Errorf("Get bad ns: %v", err)
	}
	if _, err := db.Get("default", crdt.Type(9), []byte("k")); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("Get bad type: %v", err)
	}
	if _, err := db.List("default", ListOptions{Limit: -1}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("List negative limit: %v", err)
	}
	checkInvariants(t, db)
}

func testListPagination(t *testing.T, open opener) {
	db, _ := open(t, testOptions(t))
	var ops []Op
	for i := 0; i < 25; i++ {
		ops = append(ops, put("default", fmt.Sprintf("a/%02d", i), reg(1, "o", fmt.Sprint(i))))
	}
	ops = append(ops, put("default", "b/0", reg(1, "o", "b")), put("default", "0", reg(1, "o", "0")))
	// Delete every fifth a/ key.
	for i := 0; i < 25; i += 5 {
		ops = append(ops, put("default", fmt.Sprintf("a/%02d", i), tomb(2, "o")))
	}
	mustApply(t, db, ops...)

	keys := func(es []Entry) []string {
		var out []string
		for _, e := range es {
			out = append(out, string(e.Key))
		}
		return out
	}
	var live []string
	for i := 0; i < 25; i++ {
		if i%5 != 0 {
			live = append(live, fmt.Sprintf("a/%02d", i))
		}
	}
	// Page through the a/ prefix, 7 at a time.
	var got []string
	var after []byte
	for pages := 0; ; pages++ {
		es, err := db.List("default", ListOptions{Prefix: []byte("a/"), After: after, Limit: 7})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, keys(es)...)
		if len(es) < 7 {
			break
		}
		after = es[len(es)-1].Key
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
	}
	if !slices.Equal(got, live) {
		t.Fatalf("paged keys = %v\nwant %v", got, live)
	}
	// Tombstones on request; After before the prefix; After past everything.
	es, err := db.List("default", ListOptions{Prefix: []byte("a/"), Tombstones: true})
	if err != nil || len(es) != 25 {
		t.Fatalf("with tombstones: %d entries, %v", len(es), err)
	}
	if r := es[0].State.(crdt.Register); !r.Deleted {
		t.Fatalf("a/00 should be a tombstone")
	}
	es, _ = db.List("default", ListOptions{Prefix: []byte("a/"), After: []byte("0"), Limit: 2})
	if !slices.Equal(keys(es), live[:2]) {
		t.Fatalf("After before prefix: %v", keys(es))
	}
	if es, _ = db.List("default", ListOptions{Prefix: []byte("a/"), After: []byte("a/99")}); len(es) != 0 {
		t.Fatalf("After past the prefix: %v", keys(es))
	}
	es, _ = db.List("default", ListOptions{})
	all := append(append([]string{"0"}, live...), "b/0")
	if !slices.Equal(keys(es), all) {
		t.Fatalf("List all = %v\nwant %v", keys(es), all)
	}
	es, _ = db.List("default", ListOptions{After: []byte("a/24")})
	if !slices.Equal(keys(es), []string{"b/0"}) {
		t.Fatalf("After a/24 = %v", keys(es))
	}
	// The caller owns returned keys.
	es, _ = db.List("default", ListOptions{Limit: 1})
	es[0].Key[0] = 'X'
	if es, _ = db.List("default", ListOptions{Limit: 1}); string(es[0].Key) != "0" {
		t.Fatalf("List returned aliased keys")
	}
}

func testNamespaceIsolation(t *testing.T, open opener) {
	db, _ := open(t, testOptions(t))
	if ns := db.Namespaces(); len(ns) != 0 {
		t.Fatalf("new store has namespaces %v", ns)
	}
	mustApply(t, db,
		put("a", "k", reg(1, "o", "in a")),
		put("ab", "k", reg(1, "o", "in ab")),
		put("ab", "k2", reg(1, "o", "in ab")),
		incr("b.c_d-1", "n", "o", 3),
	)
	if r := mustGet(t, db, "a", crdt.TypeRegister, "k").(crdt.Register); string(r.Value) != "in a" {
		t.Fatalf("a/k = %q", r.Value)
	}
	es, err := db.List("a", ListOptions{})
	if err != nil || len(es) != 1 {
		t.Fatalf("List(a) = %d entries, %v", len(es), err)
	}
	if _, err := db.Get("b.c_d-1", crdt.TypeRegister, []byte("k")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("key leaked across namespaces: %v", err)
	}
	if got := db.Namespaces(); !slices.Equal(got, []string{"a", "ab", "b.c_d-1"}) {
		t.Fatalf("Namespaces = %v", got)
	}
	for ns, want := range map[string]uint64{"a": 1, "ab": 2, "b.c_d-1": 1, "zz": 0} {
		if s := db.Summarize(ns, 0, math.MaxUint64); s.Count != want {
			t.Errorf("Summarize(%s).Count = %d, want %d", ns, s.Count, want)
		}
		if b := bruteSummary(t, db, ns, 0, math.MaxUint64); b.Count != want {
			t.Errorf("Items(%s) yields %d, want %d", ns, b.Count, want)
		}
	}
	// Identical items in different namespaces have identical fingerprints.
	if db.Summarize("a", 0, math.MaxUint64).Hash == 0 {
		t.Errorf("fingerprint sum is zero")
	}
	checkInvariants(t, db)
}

func testItemsAndStates(t *testing.T, open opener) {
	db, _ := open(t, testOptions(t))
	var ops []Op
	for i := 0; i < 200; i++ {
		ops = append(ops, put("default", fmt.Sprintf("k%d", i), reg(1, "o", fmt.Sprint(i))))
	}
	ops = append(ops, incr("default", "k0", "o", 1))
	mustApply(t, db, ops...)
	var items []Item
	err := db.States("default", 0, math.MaxUint64, func(it Item, s crdt.State) error {
		if it.Hash != PlacementHash(it.Type, it.Key) || it.Fingerprint != ItemHash(it.Type, it.Key, crdt.Encode(s)) {
			t.Errorf("item %q: hash or fingerprint does not match its state", it.Key)
		}
		if s.Type() != it.Type {
			t.Errorf("item %q: state type %s, item type %s", it.Key, s.Type(), it.Type)
		}
		it.Key = bytes.Clone(it.Key)
		items = append(items, it)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 201 {
		t.Fatalf("States yielded %d items, want 201", len(items))
	}
	if !slices.IsSortedFunc(items, func(a, b Item) int {
		if a.Hash != b.Hash {
			return cmp.Compare(a.Hash, b.Hash)
		}
		if a.Type != b.Type {
			return int(a.Type) - int(b.Type)
		}
		return bytes.Compare(a.Key, b.Key)
	}) {
		t.Fatalf("Items not in ascending hash order")
	}
	// A sub-range returns exactly the items inside it, bounds inclusive.
	lo, hi := items[50].Hash, items[149].Hash
	var n int
	err = db.Items("default", lo, hi, func(it Item) error {
		if it.Hash < lo || it.Hash > hi {
			t.Errorf("item %x outside [%x, %x]", it.Hash, lo, hi)
		}
		n++
		return nil
	})
	if err != nil || n != 100 {
		t.Fatalf("Items(sub-range) = %d items, %v; want 100", n, err)
	}
	// fn's error stops the walk and is returned as is.
	stop := errors.New("stop")
	n = 0
	err = db.Items("default", 0, math.MaxUint64, func(Item) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	if err != stop || n != 3 {
		t.Fatalf("Items with failing fn: err %v after %d items", err, n)
	}
	if err := db.Items("default", 10, 9, func(Item) error { t.Error("called for empty range"); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := db.Items("BAD", 0, 1, func(Item) error { return nil }); !errors.Is(err, ErrInvalidNamespace) {
		t.Fatalf("Items(bad ns) = %v", err)
	}
}

func testSummarize(t *testing.T, open opener) {
	db, _ := open(t, testOptions(t))
	var ops []Op
	for i := 0; i < 3000; i++ {
		ops = append(ops, put("default", fmt.Sprintf("key-%d", i), reg(crdt.Timestamp(i), "o", "v")))
	}
	mustApply(t, db, ops...)
	ranges := [][2]uint64{
		{0, math.MaxUint64},
		{0, leafRange(0).Hi},                 // one leaf
		{leafRange(5).Lo, leafRange(299).Hi}, // aligned, many leaves
		{1 << 63, math.MaxUint64},
		{12345, 1<<63 + 999},                          // unaligned both ends
		{leafRange(7).Lo + 5, leafRange(7).Lo + 1e12}, // inside one leaf
		{math.MaxUint64, math.MaxUint64},
		{0, 0},
	}
	// Ranges whose bounds sit exactly on item hashes.
	var hs []uint64
	_ = db.Items("default", 0, math.MaxUint64, func(it Item) error { hs = append(hs, it.Hash); return nil })
	ranges = append(ranges, [2]uint64{hs[10], hs[2000]}, [2]uint64{hs[10] + 1, hs[2000] - 1}, [2]uint64{hs[7], hs[7]})
	for _, r := range ranges {
		got, want := db.Summarize("default", r[0], r[1]), bruteSummary(t, db, "default", r[0], r[1])
		if got != want {
			t.Errorf("Summarize[%x, %x] = %+v, want %+v", r[0], r[1], got, want)
		}
	}
	if got := db.Summarize("default", 0, math.MaxUint64); got.Count != 3000 {
		t.Errorf("total count %d", got.Count)
	}
	if got := db.Summarize("default", 10, 9); got != (Summary{}) {
		t.Errorf("empty range = %+v", got)
	}
	// Changing one state changes the total fingerprint but not the count.
	before := db.Summarize("default", 0, math.MaxUint64)
	mustApply(t, db, put("default", "key-1", reg(1e9, "o", "new")))
	after := db.Summarize("default", 0, math.MaxUint64)
	if after.Count != before.Count || after.Hash == before.Hash {
		t.Errorf("update: before %+v after %+v", before, after)
	}
	checkInvariants(t, db)
}

func testClockMark(t *testing.T, open opener) {
	db, reopen := open(t, testOptions(t))
	if m := db.ClockMark(); m != 0 {
		t.Fatalf("new store ClockMark = %v", m)
	}
	mustApply(t, db, put("default", "k", reg(100, "a", "v")))
	// A losing write still raises the mark; counters and refused ops do not.
	mustApply(t, db, put("default", "j", reg(500, "a", "v")), put("default", "j", reg(300, "a", "v")))
	mustApply(t, db, put("default", "k", reg(50, "a", "v")), incr("default", "c", "a", 1))
	if _, err := db.Apply([]Op{put("BAD", "k", reg(9999, "a", "v"))}); err != nil {
		t.Fatal(err)
	}
	if m := db.ClockMark(); m != 500 {
		t.Fatalf("ClockMark = %d, want 500", m)
	}
	res := mustApply(t, db, put("default", "k", reg(700, "a", "v")), put("default", "k", reg(600, "a", "v")))
	if res[1].Changed {
		t.Fatal("older write won")
	}
	if m := db.ClockMark(); m != 700 {
		t.Fatalf("ClockMark = %d, want 700", m)
	}
	if reopen != nil {
		// Persisted rounded up to a whole second of HLC time.
		db = reopen(db)
		if m := db.ClockMark(); m < 700 || m > 700+clockStep {
			t.Fatalf("ClockMark after reopen = %d, want 700 rounded up to at most %d", m, 700+clockStep)
		}
		// A later mark is persisted again once it passes the saved one.
		later := db.ClockMark() + 5*clockStep + 3
		mustApply(t, db, put("default", "k", reg(later, "a", "v")))
		if m := db.ClockMark(); m != later {
			t.Fatalf("ClockMark = %d, want %d", m, later)
		}
		db = reopen(db)
		if m := db.ClockMark(); m < later || m > later+clockStep {
			t.Fatalf("ClockMark after second reopen = %d, want %d rounded up", m, later)
		}
	}
}

func testPurge(t *testing.T, open opener) {
	now := time.UnixMilli(10_000_000_000)
	opts := testOptions(t)
	opts.TombstoneGrace = time.Hour
	opts.Now = func() time.Time { return now }
	db, reopen := open(t, opts)
	ts := func(age time.Duration) crdt.Timestamp { return crdt.NewTimestamp(now.Add(-age).UnixMilli(), 3) }
	mustApply(t, db,
		put("default", "old-tomb", tomb(ts(2*time.Hour), "a")),
		put("default", "old-tomb-2", tomb(ts(61*time.Minute), "a")),
		put("other", "old-tomb", tomb(ts(3*time.Hour), "a")),
		put("default", "new-tomb", tomb(ts(30*time.Minute), "a")),
		put("default", "old-live", reg(ts(5*time.Hour), "a", "v")),
		// Deleted long ago, then rewritten: nothing to purge.
		put("default", "revived", tomb(ts(4*time.Hour), "a")),
		put("default", "revived", reg(ts(10*time.Minute), "a", "v")),
		// Old tombstone superseded by a recent one: kept.
		put("default", "redeleted", tomb(ts(4*time.Hour), "a")),
		put("default", "redeleted", tomb(ts(time.Minute), "a")),
		incr("default", "ctr", "a", 1),
	)
	before := db.Summarize("default", 0, math.MaxUint64)
	n, err := db.PurgeTombstones()
	if err != nil || n != 3 {
		t.Fatalf("PurgeTombstones = %d, %v; want 3", n, err)
	}
	for _, k := range []string{"old-tomb", "old-tomb-2"} {
		if _, err := db.Get("default", crdt.TypeRegister, []byte(k)); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s survived purge: %v", k, err)
		}
	}
	for _, k := range []string{"new-tomb", "old-live", "revived", "redeleted"} {
		mustGet(t, db, "default", crdt.TypeRegister, k)
	}
	if got := db.Namespaces(); !slices.Equal(got, []string{"default"}) {
		t.Errorf("Namespaces after purging 'other' = %v", got)
	}
	after := db.Summarize("default", 0, math.MaxUint64)
	if after.Count != before.Count-2 || after != bruteSummary(t, db, "default", 0, math.MaxUint64) {
		t.Errorf("summary after purge %+v (before %+v)", after, before)
	}
	checkInvariants(t, db)
	if n, err := db.PurgeTombstones(); err != nil || n != 0 {
		t.Fatalf("second purge = %d, %v", n, err)
	}
	// Time passes: the recent tombstones age out.
	now = now.Add(time.Hour)
	if n, err := db.PurgeTombstones(); err != nil || n != 2 {
		t.Fatalf("purge an hour later = %d, %v; want 2", n, err)
	}
	checkInvariants(t, db)
	if reopen != nil {
		db = reopen(db)
		checkInvariants(t, db)
	}
}

func testReopen(t *testing.T, open opener) {
	db, reopen := open(t, testOptions(t))
	if reopen == nil {
		t.Skip("backend does not persist")
	}
	var ops []Op
	for i := 0; i < 500; i++ {
		ops = append(ops, put(fmt.Sprintf("ns%d", i%3), fmt.Sprintf("k%d", i), reg(crdt.Timestamp(i+1), "o", "v")))
		if i%7 == 0 {
			ops = append(ops, incr("ns0", fmt.Sprintf("c%d", i), "o", int64(i)))
		}
		if i%11 == 0 {
			ops = append(ops, put(fmt.Sprintf("ns%d", i%3), fmt.Sprintf("k%d", i), tomb(1000, "o")))
		}
	}
	mustApply(t, db, ops...)
	db.trees.RLock()
	want := treeNodes(db.trees.byNS)
	db.trees.RUnlock()
	db = reopen(db)
	db.trees.RLock()
	got := treeNodes(db.trees.byNS)
	db.trees.RUnlock()
	same := sameNodes(got, want)
	if !same {
		t.Fatal("trees rebuilt at open differ from the trees before close")
	}
	checkInvariants(t, db)
}

func testClose(t *testing.T, open opener) {
	db, _ := open(t, testOptions(t))
	mustApply(t, db, put("default", "k", reg(1, "a", "v")))
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := db.Apply([]Op{put("default", "k", reg(2, "a", "v"))}); !errors.Is(err, ErrClosed) {
		t.Errorf("Apply after Close: %v", err)
	}
	if _, err := db.Get("default", crdt.TypeRegister, []byte("k")); !errors.Is(err, ErrClosed) {
		t.Errorf("Get after Close: %v", err)
	}
	if _, err := db.List("default", ListOptions{}); !errors.Is(err, ErrClosed) {
		t.Errorf("List after Close: %v", err)
	}
	if err := db.Items("default", 0, math.MaxUint64, func(Item) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("Items after Close: %v", err)
	}
	if err := db.States("default", 0, math.MaxUint64, func(Item, crdt.State) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("States after Close: %v", err)
	}
	if _, err := db.PurgeTombstones(); !errors.Is(err, ErrClosed) {
		t.Errorf("PurgeTombstones after Close: %v", err)
	}
	if s := db.Summarize("default", 0, math.MaxUint64); s != (Summary{}) {
		t.Errorf("Summarize after Close = %+v", s)
	}
	if ns := db.Namespaces(); ns != nil {
		t.Errorf("Namespaces after Close = %v", ns)
	}
}

// testConcurrent runs Apply against concurrent Summarize: the tree must
// show whole batches only (each batch adds size new keys), and unaligned
// summaries, which mix tree and disk, must stay within what committed.
func testConcurrent(t *testing.T, open opener) {
	db, _ := open(t, testOptions(t))
	const batches, size = 40, 25
	done := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		defer close(done)
		for b := 0; b < batches; b++ {
			var ops []Op
			for i := 0; i < size; i++ {
				ops = append(ops, put("default", fmt.Sprintf("b%d-%d", b, i), reg(1, "o", "v")))
			}
			if _, err := db.Apply(ops); err != nil {
				errc <- err
				return
			}
		}
	}()
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		s1 := db.Summarize("default", 0, math.MaxUint64)
		u := db.Summarize("default", 1, math.MaxUint64-1)
		if s1.Count%size != 0 || u.Count > batches*size {
			t.Fatalf("Summarize saw a partial batch: count %d (unaligned %d)", s1.Count, u.Count)
		}
	}
	select {
	case err := <-errc:
		t.Fatal(err)
	default:
	}
	if s := db.Summarize("default", 0, math.MaxUint64); s.Count != batches*size {
		t.Fatalf("final count %d", s.Count)
	}
	checkInvariants(t, db)
}

// TestApplySplitsTooBigTransactions applies a batch larger than one Badger
// transaction may hold: it must commit whole, in order, across several.
func TestApplySplitsTooBigTransactions(t *testing.T) {
	db, _ := memOpener(t, testOptions(t))
	value := bytes.Repeat([]byte("v"), 200<<10)
	var ops []Op
	for i := 0; i < 80; i++ { // 16 MB, over Badger's ~9.6 MB per transaction
		ops = append(ops, put("default", fmt.Sprintf("big-%02d", i), crdt.Register{Time: crdt.Timestamp(i + 1), Origin: "o", Value: value}))
	}
	// Later ops depend on earlier ones across the split.
	ops = append(ops, incr("default", "c", "o", 1), incr("default", "c", "o", 2))
	ops = append(ops, put("default", "big-00", tomb(1000, "o")))
	before := db.commits.Load()
	res := mustApply(t, db, ops...)
	if n := db.commits.Load() - before; n < 2 {
		t.Fatalf("batch committed in %d transaction(s); the test needs a split", n)
	}
	for i, r := range res {
		if !r.Changed {
			t.Fatalf("op %d did not change", i)
		}
	}
	if v := counterValue(t, db, "default", "c"); v != 3 {
		t.Fatalf("counter = %d, want 3", v)
	}
	if s := db.Summarize("default", 0, math.MaxUint64); s.Count != 81 {
		t.Fatalf("count = %d, want 81", s.Count)
	}
	if m := db.ClockMark(); m != 1000 {
		t.Fatalf("ClockMark = %d", m)
	}
	checkInvariants(t, db)
}

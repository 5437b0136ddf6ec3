package chaos

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/crdt"
)

// ids are the peers' origins in the tests: "A" < "B". Phantom values and
// version mismatches count once per peer that reads them.
var ids = []string{"A", "B"}

func put(id int64, peer int, key, value, typ string, version uint64, inv, done time.Duration) Op {
	return Op{ID: id, F: FPut, Peer: peer, Key: key, Value: value, Type: typ, Version: version, Invoke: inv, Complete: done}
}

func get(peer int, key, value string, version uint64, inv, done time.Duration) Op {
	return Op{F: FGet, Peer: peer, Key: key, Value: value, Version: version, Type: TypeOK, Invoke: inv, Complete: done}
}

func finals(regs map[string]Reg, counters map[string]int64, n int) []FinalState {
	var out []FinalState
	for i := range n {
		out = append(out, FinalState{Peer: i, Live: true, Registers: regs, Counters: counters, Digest: "d"})
	}
	return out
}

func TestLWW(t *testing.T) {
	ops := []Op{
		put(1, 0, "r/0", "a", TypeOK, 10, 1, 2),
		put(2, 1, "r/0", "b", TypeOK, 10, 1, 2), // same HLC, greater origin: wins
		put(3, 0, "r/0", "c", TypeInfo, 0, 3, 4),
		put(4, 0, "r/0", "x", TypeFail, 0, 3, 4),
	}
	cases := []struct {
		name  string
		final Reg
		valid bool
		want  string
	}{
		{"greatest ok write", Reg{Value: "b", Version: 10}, true, "lost 0"},
		{"info write above every ok write", Reg{Value: "c", Version: 11}, true, "lost 0"},
		{"lower origin at the same HLC", Reg{Value: "a", Version: 10}, false, "lost 1"},
		{"info write below an ok write", Reg{Value: "c", Version: 9}, false, "lost 2"},
		{"failed write", Reg{Value: "x", Version: 12}, false, "phantom 2"},
		{"never written", Reg{Value: "zzz", Version: 12}, false, "phantom 2"},
		{"absent", Reg{Absent: true}, false, "lost 2"},
		{"wrong version", Reg{Value: "b", Version: 11}, false, "version mismatches 2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := Input{Ops: ops, PeerIDs: ids, HotKeys: []string{"r/0"}, Final: finals(map[string]Reg{"r/0": tc.final}, nil, 2)}
			r := checkLWW(in)
			if r.Valid != tc.valid || !strings.Contains(r.Summary, tc.want) {
				t.Fatalf("valid=%v %q %v; want valid=%v and %q", r.Valid, r.Summary, r.Offending, tc.valid, tc.want)
			}
		})
	}
}

func TestLWWStaleStamps(t *testing.T) {
	final := finals(map[string]Reg{"r/0": {Value: "b", Version: 20}}, nil, 2)
	base := []Op{
		put(1, 1, "r/0", "b", TypeOK, 20, 1, 2),
		get(0, "r/0", "b", 20, 3, 4), // peer A serves B's write...
	}
	// ...then stamps its own later write below it: the write is lost to one
	// it causally follows (what wall-clock LWW does under skew).
	bad := append(base, put(2, 0, "r/0", "a", TypeOK, 15, 5, 6))
	r := checkLWW(Input{Ops: bad, PeerIDs: ids, HotKeys: []string{"r/0"}, Final: final})
	if r.Valid || !strings.Contains(r.Summary, "stale stamps 1") {
		t.Fatalf("stale write not reported: %q", r.Summary)
	}
	// Concurrent with the read (invoked before it completed): no order.
	ok := append(base, put(2, 0, "r/0", "a", TypeOK, 15, 3, 6))
	r = checkLWW(Input{Ops: ok, PeerIDs: ids, HotKeys: []string{"r/0"}, Final: final})
	if !r.Valid {
		t.Fatalf("concurrent write reported: %q %v", r.Summary, r.Offending)
	}
	// The same peer's own earlier acknowledged write counts too.
	own := []Op{put(1, 0, "r/0", "a1", TypeOK, 30, 1, 2), put(2, 0, "r/0", "a2", TypeOK, 25, 3, 4)}
	r = checkLWW(Input{Ops: own, PeerIDs: ids, HotKeys: []string{"r/0"}, Final: finals(map[string]Reg{"r/0": {Value: "a1", Version: 30}}, nil, 1)})
	if r.Valid || !strings.Contains(r.Summary, "stale stamps 1") {
		t.Fatalf("non-monotonic stamps not reported: %q", r.Summary)
	}
}

func TestCounters(t *testing.T) {
	ops := []Op{
		{F: FIncr, Key: "c/0", Delta: 5, Type: TypeOK},
		{F: FIncr, Key: "c/0", Delta: -2, Type: TypeOK},
		{F: FIncr, Key: "c/0", Delta: 3, Type: TypeInfo},
		{F: FIncr, Key: "c/0", Delta: 5, Type: TypeInfo},
		{F: FIncr, Key: "c/0", Delta: 100, Type: TypeFail},
	}
	for _, tc := range []struct {
		vals  []int64
		valid bool
		want  string
	}{
		{[]int64{3, 3}, true, "lost 0"},
		{[]int64{6, 6}, true, "lost 0"},
		{[]int64{11, 11}, true, "lost 0"},
		{[]int64{2, 2}, false, "lost 2"},
		{[]int64{12, 12}, false, "duplicated 2"},
		{[]int64{7, 7}, false, "impossible 2"},
		{[]int64{3, 6}, false, "divergent 1"},
	} {
		var fs []FinalState
		for i, v := range tc.vals {
			fs = append(fs, FinalState{Peer: i, Live: true, Counters: map[string]int64{"c/0": v}})
		}
		r := checkCounters(Input{Ops: ops, CounterKeys: []string{"c/0"}, Final: fs})
		if r.Valid != tc.valid || !strings.Contains(r.Summary, tc.want) {
			t.Errorf("%v: valid=%v %q; want valid=%v and %q", tc.vals, r.Valid, r.Summary, tc.valid, tc.want)
		}
	}
}

func TestDeletes(t *testing.T) {
	ops := []Op{
		put(1, 0, "d/0/1", "v", TypeOK, 10, 1, 2),
		{ID: 2, F: FDel, Peer: 0, Key: "d/0/1", Type: TypeOK, Invoke: 3, Complete: 4},
	}
	gone := finals(map[string]Reg{"d/0/1": {Absent: true}}, nil, 2)
	if r := checkDeletes(Input{Ops: ops, Final: gone}); !r.Valid {
		t.Fatalf("absent key reported: %q", r.Summary)
	}
	back := finals(map[string]Reg{"d/0/1": {Value: "v", Version: 10}}, nil, 2)
	if r := checkDeletes(Input{Ops: ops, Final: back}); r.Valid || !strings.Contains(r.Summary, "resurrected 2") {
		t.Fatalf("resurrection not reported: %q", r.Summary)
	}
	// Served by the deleting peer after the delete: resurrected during the run.
	during := append(ops, get(0, "d/0/1", "v", 10, 5, 6))
	if r := checkDeletes(Input{Ops: during, Final: gone}); r.Valid {
		t.Fatalf("read-back after delete not reported: %q", r.Summary)
	}
	// Another peer may not have seen the delete yet: not a violation.
	other := append(ops, get(1, "d/0/1", "v", 10, 5, 6))
	if r := checkDeletes(Input{Ops: other, Final: gone}); !r.Valid {
		t.Fatalf("stale read on another peer reported: %q", r.Summary)
	}
}

func TestConvergence(t *testing.T) {
	same := []FinalState{
		{Peer: 0, Live: true, Digest: "x", Registers: map[string]Reg{"k": {Value: "v", Version: 1}}},
		{Peer: 1, Live: true, Digest: "x", Registers: map[string]Reg{"k": {Value: "v", Version: 1}}},
	}
	if r := checkConvergence(Input{Final: same, Converged: true}); !r.Valid {
		t.Fatalf("identical peers reported: %q", r.Summary)
	}
	diff := []FinalState{same[0], {Peer: 1, Live: true, Digest: "y", Registers: map[string]Reg{"k": {Value: "w", Version: 2}}}}
	r := checkConvergence(Input{Final: diff})
	if r.Valid || len(r.Offending) != 1 || !strings.Contains(r.Offending[0], `p2 "w"@2`) {
		t.Fatalf("divergence not reported: %q %v", r.Summary, r.Offending)
	}
	dead := []FinalState{same[0], {Peer: 1, Err: "not running"}}
	if r := checkConvergence(Input{Final: dead, Converged: true}); r.Valid {
		t.Fatalf("a dead peer passed: %q", r.Summary)
	}
}

func TestDurabilityAndBadInput(t *testing.T) {
	if r := checkDurability(Input{Durability: []DurabilityCheck{{Checked: 3}}}); !r.Valid {
		t.Fatalf("clean restart reported: %q", r.Summary)
	}
	if r := checkDurability(Input{Durability: []DurabilityCheck{{Checked: 3, Missing: []string{"r/0"}}}}); r.Valid {
		t.Fatalf("missing write passed: %q", r.Summary)
	}
	if r := checkBadInput(Input{BadInput: BadInputStats{APISent: 3, APIRejected: 3}}); !r.Valid {
		t.Fatalf("all rejected reported: %q", r.Summary)
	}
	for _, b := range []BadInputStats{{AcceptedKeys: []string{"bad/x"}}, {APIAccepted: 1}, {APIServerErrors: 1}} {
		if r := checkBadInput(Input{BadInput: b}); r.Valid {
			t.Errorf("%+v passed", b)
		}
	}
	if r := checkBadInput(Input{Crashes: []string{"p1 exited"}}); r.Valid {
		t.Error("a crash passed")
	}
}

func TestReachable(t *testing.T) {
	set, lo, hi := reachable([]int64{2, -3, 5})
	if lo != -3 || hi != 7 {
		t.Fatalf("bounds %d..%d", lo, hi)
	}
	for _, v := range []int64{0, 2, -3, 5, -1, 7, 4, 2} {
		if !set[v] {
			t.Errorf("%d not reachable", v)
		}
	}
	for _, v := range []int64{1, 3, 6, -2} {
		if set[v] {
			t.Errorf("%d reachable", v)
		}
	}
}

func TestHistoryJSONLines(t *testing.T) {
	var buf bytes.Buffer
	h := NewHistory(&buf, time.Now())
	op := h.Invoke(Op{Process: 3, F: FPut, Key: "r/0", Value: "w3/1"})
	op.Type, op.Version = TypeOK, 42
	h.Complete(op)
	h.Event("kill", "kill -9", 2)
	if err := h.Flush(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines: %q", len(lines), buf.String())
	}
	var inv, done struct{ Op Op }
	var ev struct{ Event Event }
	for i, v := range []any{&inv, &done, &ev} {
		if err := json.Unmarshal([]byte(lines[i]), v); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
	}
	if inv.Op.Type != TypeInvoke || done.Op.Type != TypeOK || done.Op.Version != 42 || inv.Op.ID != done.Op.ID || ev.Event.Kind != "kill" {
		t.Fatalf("lines %+v %+v %+v", inv, done, ev)
	}
	if got := h.Ops(); len(got) != 1 || got[0].Version != 42 {
		t.Fatalf("Ops = %+v", got)
	}
}

func TestSummary(t *testing.T) {
	r := &Report{Config: ShortConfig(), Mechanism: "nftables", Results: []Result{{Name: "lww", Valid: true, Summary: "ok"}}, Valid: true}
	if s := r.Summary(); !strings.HasSuffix(s, "RESULT: VALID\n") || !strings.Contains(s, "seed 1") {
		t.Fatalf("summary:\n%s", s)
	}
	r.Valid = false
	r.Results = append(r.Results, Result{Name: "deletes", Summary: "resurrected 1", Offending: []string{"d/1: back"}})
	if s := r.Summary(); !strings.HasSuffix(s, "RESULT: INVALID\n") || !strings.Contains(s, "deletes: d/1: back") {
		t.Fatalf("summary:\n%s", s)
	}
}

func TestConfigValidate(t *testing.T) {
	c := ShortConfig()
	if err := c.Validate(); err == nil {
		t.Fatal("config without binary and directory passed")
	}
	c.Bin, c.Dir = "/bin/true", t.TempDir()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	c.Partition = "iptables"
	if err := c.Validate(); err == nil {
		t.Fatal("unknown partition mechanism passed")
	}
}

// A put acknowledged before a kill may be absent after the restart when a
// later put of the key, with a TTL, replaced it and has expired since
// (the case a 70 s run once reported as a lost write).
func TestLaterExpired(t *testing.T) {
	in := Input{PeerIDs: []string{"a", "b"}}
	v := func(ms int64) uint64 { return uint64(crdt.NewTimestamp(ms, 0)) }
	acked := stamp{v(1000), "a"}
	later := Op{F: FPut, Key: "ttl/0", Peer: 1, Type: TypeOK, Version: v(1100), TTL: time.Second}
	for _, tc := range []struct {
		name string
		ops  []Op
		now  int64
		want bool
	}{
		{"later put expired", []Op{later}, 2200, true},
		{"later put not expired yet", []Op{later}, 2000, false},
		{"later put without a TTL", []Op{{F: FPut, Key: "ttl/0", Peer: 1, Type: TypeOK, Version: v(1100)}}, 9999, false},
		{"earlier put expired", []Op{{F: FPut, Key: "ttl/0", Peer: 1, Type: TypeOK, Version: v(900), TTL: time.Millisecond}}, 9999, false},
		{"failed later put", []Op{{F: FPut, Key: "ttl/0", Peer: 1, Type: TypeFail, Version: v(1100), TTL: time.Millisecond}}, 9999, false},
		{"another key", []Op{{F: FPut, Key: "ttl/1", Peer: 1, Type: TypeOK, Version: v(1100), TTL: time.Millisecond}}, 9999, false},
	} {
		if got := laterExpired(tc.ops, in, "ttl/0", acked, tc.now); got != tc.want {
			t.Errorf("%s: laterExpired = %v, want %v", tc.name, got, tc.want)
		}
	}
}

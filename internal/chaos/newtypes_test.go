package chaos

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/crdt"
)

func condPut(id int64, peer int, key, value, cond, typ string, version uint64, inv, done time.Duration) Op {
	op := put(id, peer, key, value, typ, version, inv, done)
	op.Cond = cond
	return op
}

func TestCheckCAS(t *testing.T) {
	final := finals(map[string]Reg{"cas/0": {Value: "b", Version: 20}}, nil, 2)
	// Two peers accept a write on the same version: allowed.
	across := []Op{condPut(1, 0, "cas/0", "a", "10", TypeOK, 20, 1, 2), condPut(2, 1, "cas/0", "b", "10", TypeOK, 20, 1, 2)}
	if r := checkCAS(Input{Ops: across, PeerIDs: ids, Final: final}); !r.Valid {
		t.Fatalf("across peers: %s %v", r.Summary, r.Offending)
	}
	// The same peer accepts both: a violation.
	same := []Op{condPut(1, 0, "cas/0", "a", "10", TypeOK, 19, 1, 2), condPut(2, 0, "cas/0", "b", "10", TypeOK, 20, 1, 3)}
	if r := checkCAS(Input{Ops: same, PeerIDs: ids, Final: final}); r.Valid {
		t.Fatalf("same peer, same condition: valid: %s", r.Summary)
	}
	// A peer accepts a write on version 10 after serving version 15.
	stale := []Op{get(0, "cas/0", "x", 15, 1, 2), condPut(2, 0, "cas/0", "b", "10", TypeOK, 20, 3, 4), put(3, 1, "cas/0", "x", TypeOK, 15, 0, 1)}
	if r := checkCAS(Input{Ops: stale, PeerIDs: ids, Final: final}); r.Valid {
		t.Fatalf("stale condition: valid: %s", r.Summary)
	}
	// A put-if-absent accepted after the peer served a value.
	absent := []Op{get(0, "once/0/1", "x", 15, 1, 2), condPut(2, 0, "once/0/1", "b", condAbsent, TypeOK, 20, 3, 4)}
	if r := checkCAS(Input{Ops: absent, PeerIDs: ids}); r.Valid {
		t.Fatalf("if-absent after a value: valid: %s", r.Summary)
	}
	// A final value nobody wrote.
	if r := checkCAS(Input{Ops: across, PeerIDs: ids, Final: finals(map[string]Reg{"cas/0": {Value: "z", Version: 30}}, nil, 1)}); r.Valid {
		t.Fatalf("phantom: valid: %s", r.Summary)
	}
}

func TestCheckTTL(t *testing.T) {
	start := time.UnixMilli(1_000_000)
	ver := uint64(crdt.NewTimestamp(1_000_000+100, 0)) // written 100ms after the start
	w := put(1, 0, "ttl/0", "a", TypeOK, ver, 90*time.Millisecond, 100*time.Millisecond)
	w.TTL = time.Second // expires at start+1100ms
	read := func(peer int, at time.Duration) Op { return get(peer, "ttl/0", "a", ver, at, at+5*time.Millisecond) }
	in := func(ops []Op, skews []SkewWindow) Input {
		return Input{Ops: ops, PeerIDs: ids, Start: start, Skews: skews, Final: finals(map[string]Reg{"ttl/0": {Absent: true}}, nil, 2)}
	}
	if r := checkTTL(in([]Op{w, read(0, 1000*time.Millisecond)}, nil)); !r.Valid {
		t.Fatalf("read before expiry: %s %v", r.Summary, r.Offending)
	}
	if r := checkTTL(in([]Op{w, read(0, 1200*time.Millisecond)}, nil)); r.Valid {
		t.Fatalf("read after expiry: valid: %s", r.Summary)
	}
	// A clock 500ms behind may still serve it 200ms after expiry ...
	behind := []SkewWindow{{Peer: 1, Skew: -500 * time.Millisecond, From: time.Millisecond, To: 1300 * time.Millisecond}}
	if r := checkTTL(in([]Op{w, read(1, 1300*time.Millisecond)}, behind)); !r.Valid {
		t.Fatalf("read on a clock behind: %s %v", r.Summary, r.Offending)
	}
	// ... but not 600ms after, and a forward skew excuses nothing.
	if r := checkTTL(in([]Op{w, read(1, 1700*time.Millisecond)}, behind)); r.Valid {
		t.Fatalf("read 600ms late on a clock 500ms behind: valid: %s", r.Summary)
	}
	ahead := []SkewWindow{{Peer: 0, Skew: 5 * time.Second, From: 0}}
	if r := checkTTL(in([]Op{w, read(0, 1200*time.Millisecond)}, ahead)); r.Valid {
		t.Fatalf("read after expiry on a clock ahead: valid: %s", r.Summary)
	}
	// At the end: listed after its expiry.
	end := in([]Op{w}, nil)
	end.Final = finals(map[string]Reg{"ttl/0": {Value: "a", Version: ver}}, nil, 1)
	end.Final[0].At, end.Final[0].Done = 1_000_000+2000, 1_000_000+2010
	if r := checkTTL(end); r.Valid {
		t.Fatalf("listed after expiry: valid: %s", r.Summary)
	}
	// Absent before its expiry: lost.
	end.Final = finals(map[string]Reg{"ttl/0": {Absent: true}}, nil, 1)
	end.Final[0].At, end.Final[0].Done = 1_000_000+500, 1_000_000+510
	if r := checkTTL(end); r.Valid {
		t.Fatalf("absent before expiry: valid: %s", r.Summary)
	}
}

func setOp(f string, peer int, m, typ string, inv, done time.Duration) Op {
	return Op{F: f, Peer: peer, Key: "S/0", Value: m, Type: typ, Invoke: inv, Complete: done}
}

func TestCheckSets(t *testing.T) {
	sets := func(ms ...string) []FinalState {
		f := finals(nil, nil, 2)
		for i := range f {
			f[i].Sets = map[string][]string{"S/0": ms}
		}
		return f
	}
	in := func(ops []Op, f []FinalState) Input { return Input{Ops: ops, SetKeys: []string{"S/0"}, Final: f} }
	// A remove on p2 that completed before a later add on p1: the add
	// must win (add-wins), whatever p2 had seen.
	addAfter := []Op{setOp(FSetAdd, 0, "e", TypeOK, 1, 2), setOp(FSetRem, 1, "e", TypeOK, 3, 4), setOp(FSetAdd, 0, "e", TypeOK, 5, 6)}
	if r := checkSets(in(addAfter, sets("e"))); !r.Valid {
		t.Fatalf("add after remove: %s %v", r.Summary, r.Offending)
	}
	if r := checkSets(in(addAfter, sets())); r.Valid {
		t.Fatalf("add after remove lost: valid: %s", r.Summary)
	}
	// A remove on another peer after the add completed may miss the add:
	// either outcome is fine.
	remAfter := []Op{setOp(FSetAdd, 0, "e", TypeOK, 1, 2), setOp(FSetRem, 1, "e", TypeOK, 3, 4)}
	for _, f := range [][]string{{"e"}, {}} {
		if r := checkSets(in(remAfter, sets(f...))); !r.Valid {
			t.Fatalf("remove on another peer, final %v: %s %v", f, r.Summary, r.Offending)
		}
	}
	// The same peer: it had seen the add, so the member must be gone.
	remSame := []Op{setOp(FSetAdd, 0, "e", TypeOK, 1, 2), setOp(FSetRem, 0, "e", TypeOK, 3, 4)}
	if r := checkSets(in(remSame, sets("e"))); r.Valid {
		t.Fatalf("removed through the adding peer yet present: valid: %s", r.Summary)
	}
	// Phantom and divergence.
	if r := checkSets(in(nil, sets("x"))); r.Valid {
		t.Fatalf("phantom: valid: %s", r.Summary)
	}
	div := sets("e")
	div[1].Sets = map[string][]string{"S/0": nil}
	if r := checkSets(in(remAfter, div)); r.Valid {
		t.Fatalf("divergent: valid: %s", r.Summary)
	}
}

func txn(peer int, id, typ string, va, vb uint64) Op {
	op := Op{F: FTxn, Peer: peer, Key: "t/0/", Value: id, Type: typ}
	if typ == TypeOK {
		op.Versions = []uint64{va, vb}
	}
	return op
}

func TestCheckTxn(t *testing.T) {
	final := func(a, b string, n int64) []FinalState {
		return finals(map[string]Reg{"t/0/a": {Value: a}, "t/0/b": {Value: b}, "t/1/a": {Absent: true}, "t/1/b": {Absent: true}}, map[string]int64{"t/0/n": n}, 2)
	}
	ops := []Op{txn(0, "x", TypeOK, 10, 11), txn(1, "y", TypeOK, 20, 21)}
	if r := checkTxn(Input{Ops: ops, PeerIDs: ids, Final: final("y", "y", 2)}); !r.Valid {
		t.Fatalf("last txn whole: %s %v", r.Summary, r.Offending)
	}
	// Half of y: a from y, b from x (older): y's b lost.
	if r := checkTxn(Input{Ops: ops, PeerIDs: ids, Final: final("y", "x", 2)}); r.Valid {
		t.Fatalf("half a txn: valid: %s", r.Summary)
	}
	// Interleaved concurrent txns, each key won by the greater stamp: allowed.
	inter := []Op{txn(0, "x", TypeOK, 10, 13), txn(1, "y", TypeOK, 11, 12)}
	if r := checkTxn(Input{Ops: inter, PeerIDs: ids, Final: final("y", "x", 2)}); !r.Valid {
		t.Fatalf("interleaved by stamps: %s %v", r.Summary, r.Offending)
	}
	// A counter that missed an ok txn.
	if r := checkTxn(Input{Ops: ops, PeerIDs: ids, Final: final("y", "y", 1)}); r.Valid {
		t.Fatalf("counter: valid: %s", r.Summary)
	}
}

func TestForwardSkewBelowGrace(t *testing.T) {
	cfg := ShortConfig()
	cfg.Bin, cfg.Dir = "x", t.TempDir()
	n := &nemesis{cfg: cfg}
	for seed := range uint64(200) {
		n.rng = newRand(seed)
		if d, _ := n.skew(false); d > cfg.TombstoneGrace/2 {
			t.Fatalf("seed %d: forward skew %s, beyond half the grace %s", seed, d, cfg.TombstoneGrace)
		}
	}
	cfg.MaxForwardJump = cfg.TombstoneGrace
	if cfg.Validate() == nil {
		t.Fatal("a forward jump as large as the grace was accepted")
	}
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 1)) }

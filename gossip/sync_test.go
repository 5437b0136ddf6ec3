package gossip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/gossip/reconcile"
	"github.com/grapevine-kv/grapevine/internal/wire"
	"github.com/grapevine-kv/grapevine/storage"
	"github.com/libp2p/go-libp2p/core/host"
	libp2ppeer "github.com/libp2p/go-libp2p/core/peer"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
)

func openStore(t testing.TB) *storage.DB {
	t.Helper()
	opts := storage.DefaultConfig()
	opts.InMemory = true
	db, err := storage.Open("", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// applyTo is an Applier that writes straight into db.
func applyTo(db *storage.DB) Applier {
	var mu sync.Mutex
	return func(_ context.Context, _ libp2ppeer.ID, ns string, deltas []wire.Delta) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		ops := make([]storage.Op, len(deltas))
		for i, d := range deltas {
			ops[i] = storage.Op{Namespace: ns, Key: d.Key, State: d.State}
		}
		res, err := db.Apply(ops)
		n := 0
		for _, r := range res {
			if r.Changed {
				n++
			}
		}
		return n, err
	}
}

// testSyncConfig is the fast profile of the tests.
func testSyncConfig() SyncConfig {
	cfg := DefaultSyncConfig()
	cfg.Network = testNetwork
	cfg.Interval = 100 * time.Millisecond
	cfg.IdleTimeout = 5 * time.Second
	// The tests stamp states in 1970: a grace of a century keeps them
	// within it, so the rejoin rule (pullfirst_test.go) holds nothing back.
	cfg.TombstoneGrace = 100 * 365 * 24 * time.Hour
	return cfg
}

type syncPeer struct {
	h      host.Host
	db     *storage.DB
	s      *Syncer
	rounds chan RoundStats // every round this peer ran, either role
}

func makeSyncPeers(t *testing.T, n int) []syncPeer {
	t.Helper()
	mn, err := mocknet.FullMeshConnected(n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mn.Close() })
	var out []syncPeer
	for _, h := range mn.Hosts() {
		db := openStore(t)
		rounds := make(chan RoundStats, 100)
		cfg := testSyncConfig()
		cfg.OnRound = func(r RoundStats) { rounds <- r }
		s, err := NewSyncer(h, db, applyTo(db), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		out = append(out, syncPeer{h: h, db: db, s: s, rounds: rounds})
	}
	return out
}

func put(t testing.TB, db *storage.DB, ns, key, value string, ts int64) {
	t.Helper()
	if _, err := db.Apply([]storage.Op{{Namespace: ns, Key: []byte(key),
		State: crdt.Register{Time: crdt.NewTimestamp(ts, 0), Origin: "o", Value: []byte(value)}}}); err != nil {
		t.Fatal(err)
	}
}

func dbDigest(db *storage.DB) string {
	var b bytes.Buffer
	for _, ns := range db.Namespaces() {
		s := db.Summarize(ns, 0, math.MaxUint64)
		fmt.Fprintf(&b, "%s:%d:%x;", ns, s.Count, s.Hash)
	}
	return b.String()
}

func TestSyncRoundRepairsBothWays(t *testing.T) {
	ps := makeSyncPeers(t, 2)
	a, b := ps[0], ps[1]
	for i := range 300 {
		put(t, a.db, "default", fmt.Sprint("a", i), "va", 1000)
		put(t, b.db, "other", fmt.Sprint("b", i), "vb", 1000)
	}
	put(t, a.db, "default", "both", "older", 1000)
	put(t, b.db, "default", "both", "newer", 2000)
	stats, err := a.s.SyncWith(context.Background(), b.h.ID())
	if err != nil {
		t.Fatal(err)
	}
	if dbDigest(a.db) != dbDigest(b.db) {
		t.Fatalf("digests differ after one round:\n%s\n%s", dbDigest(a.db), dbDigest(b.db))
	}
	st, _ := a.db.Get("default", crdt.TypeRegister, []byte("both"))
	if r := st.(crdt.Register); string(r.Value) != "newer" {
		t.Fatalf("LWW winner = %q, want newer", r.Value)
	}
	if stats.Clean() || len(stats.Namespaces) != 2 {
		t.Fatalf("stats = %+v", stats)
	}
	again, err := b.s.SyncWith(context.Background(), a.h.ID())
	if err != nil || !again.Clean() {
		t.Fatalf("second round not clean: %+v %v", again, err)
	}
	for _, ns := range again.Namespaces {
		if ns.RoundTrips != 1 || ns.BytesSent+ns.BytesReceived > 512 {
			t.Fatalf("identical replicas cost %+v; want 1 round trip and ≤ 512 B", ns)
		}
	}
}

func frame(kind wire.FrameKind, payload []byte) []byte { return wire.AppendFrame(nil, kind, payload) }

// hostileInputs are streams a rogue initiator might send.
func hostileInputs() map[string][]byte {
	hello := frame(wire.FrameHello, wire.AppendHello(nil, []string{"default"}))
	root, _ := (&reconcile.Message{Root: &reconcile.Summary{Count: 1, Hash: 7}}).Marshal()
	badState := wire.AppendDelta(wire.AppendHeader(nil, "default"), []byte("k"), []byte{1, 99})
	wrongNS := wire.Batch{Namespace: "evil", Deltas: []wire.Delta{{Key: []byte("k"), State: crdt.Register{Time: 5, Origin: "x", Value: []byte("v")}}}}.Marshal()
	return map[string][]byte{
		"garbage":              {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		"oversized frame":      wire.AppendFrameHeader(nil, wire.FrameHello, wire.MaxFrameSize),
		"zero-length frame":    {0},
		"states before hello":  frame(wire.FrameStates, wrongNS),
		"bad hello namespace":  frame(wire.FrameHello, wire.AppendHello(nil, []string{"Not Valid!"})),
		"truncated hello":      hello[:len(hello)-2],
		"reconcile garbage":    append(append([]byte{}, hello...), frame(wire.FrameReconcile, []byte{0xde, 0xad, 0xbe, 0xef})...),
		"states mid-reconcile": append(append([]byte{}, hello...), frame(wire.FrameStates, wrongNS)...),
		"undecodable state":    append(append(append([]byte{}, hello...), frame(wire.FrameReconcile, root)...), frame(wire.FrameStates, badState)...),
		"unknown frame kind":   append(append([]byte{}, hello...), frame(99, nil)...),
		// A states frame over the victim's limit (its values are ≤ 1 MiB,
		// so it reads states frames of wire.MaxFrameSize) and one at the
		// hard maximum: both refused before anything is allocated.
		"oversized states frame": append(append(append([]byte{}, hello...), frame(wire.FrameReconcile, root)...),
			wire.AppendFrameHeader(nil, wire.FrameStates, wire.StatesFrameLimit(1<<20))...),
		"states frame at the hard maximum": append(append(append([]byte{}, hello...), frame(wire.FrameReconcile, root)...),
			wire.AppendFrameHeader(nil, wire.FrameStates, wire.MaxStatesFrame)...),
	}
}

func TestHostileStreamsChangeNothing(t *testing.T) {
	ps := makeSyncPeers(t, 2)
	victim, rogue := ps[0], ps[1]
	put(t, victim.db, "default", "k", "original", 1000)
	before := dbDigest(victim.db)
	for name, in := range hostileInputs() {
		t.Run(name, func(t *testing.T) {
			str, err := rogue.h.NewStream(context.Background(), victim.h.ID(), victim.s.Protocol())
			if err != nil {
				t.Fatal(err)
			}
			defer str.Reset()
			if _, err := str.Write(in); err != nil {
				t.Fatal(err)
			}
			_ = str.CloseWrite()
			_, _ = io.Copy(io.Discard, str) // the victim ends the stream
			select {
			case r := <-victim.rounds:
				if r.Err == nil || r.Initiator {
					t.Fatalf("victim's round ended without error: %+v", r)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("victim never finished the round")
			}
			if got := dbDigest(victim.db); got != before {
				t.Fatalf("state changed: %s -> %s", before, got)
			}
		})
	}
	// The victim still serves honest rounds.
	if _, err := rogue.s.SyncWith(context.Background(), victim.h.ID()); err != nil {
		t.Fatalf("honest round after hostile ones: %v", err)
	}
}

func TestSyncWithUnknownPeerFails(t *testing.T) {
	ps := makeSyncPeers(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := ps[0].s.SyncWith(ctx, libp2ppeer.ID("nobody")); err == nil {
		t.Fatal("round with an unknown peer succeeded")
	}
}

// memStream is an in-memory stream: reads come from in, writes are dropped.
type memStream struct {
	io.Reader
}

func (memStream) Write(p []byte) (int, error) { return len(p), nil }
func (memStream) Close() error                { return nil }
func (memStream) Reset() error                { return nil }
func (memStream) SetDeadline(time.Time) error { return nil }

// FuzzServe feeds arbitrary bytes to the responder side of a round: it
// must never panic, and whatever it applies must be valid states.
func FuzzServe(f *testing.F) {
	for _, in := range hostileInputs() {
		f.Add(in)
	}
	f.Add(frame(wire.FrameHello, nil))
	db := openStore(f)
	put(f, db, "default", "k", "v", 1000)
	mn := mocknet.New()
	defer mn.Close()
	h, err := mn.GenPeer()
	if err != nil {
		f.Fatal(err)
	}
	s, err := NewSyncer(h, db, applyTo(db), testSyncConfig())
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	f.Fuzz(func(t *testing.T, in []byte) {
		err := s.round(context.Background(), memStream{bytes.NewReader(in)}, &RoundStats{})
		if err == nil {
			return
		}
		if errors.Is(err, context.Canceled) {
			t.Fatal("unexpected cancellation")
		}
	})
}

// slowStream is a stream whose writes take 10 ms each and fail, like a real
// stream's, once the deadline has passed. Used inside a synctest bubble, its
// time is the bubble's fake clock, so the machine's load changes nothing.
type slowStream struct {
	memStream
	deadline time.Time
	writes   int
}

func (s *slowStream) SetDeadline(t time.Time) error { s.deadline = t; return nil }

func (s *slowStream) Write(p []byte) (int, error) {
	time.Sleep(10 * time.Millisecond) // a slow receiver behind flow control
	if time.Now().After(s.deadline) {
		return 0, os.ErrDeadlineExceeded
	}
	s.writes++
	return len(p), nil
}

// A transfer may last far longer than the idle timeout as long as frames
// keep moving: the sending side of a bootstrap only writes, and each frame
// it writes must push the deadline back. The clock is synctest's, so each
// write takes exactly 10 ms of it however loaded the machine is.
func TestFrameWritesPushDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		str := &slowStream{}
		c := newFrameConn(str)
		idle := 50 * time.Millisecond
		c.progress = func() { _ = str.SetDeadline(time.Now().Add(idle)) }
		c.progress()
		chunk := make([]byte, 100<<10) // larger than the write buffer: every frame reaches the stream
		start := time.Now()
		for i := range 20 {
			if err := c.write(wire.FrameStates, chunk); err != nil {
				t.Fatalf("frame %d failed after %s (%d writes reached the stream): %v", i, time.Since(start), str.writes, err)
			}
		}
		if err := c.flush(); err != nil {
			t.Fatal(err)
		}
		if elapsed := time.Since(start); elapsed < 4*idle {
			t.Fatalf("writing took %s; the test needs it to outlast the idle timeout", elapsed)
		}
	})
}

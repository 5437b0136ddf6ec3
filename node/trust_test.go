package node_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/internal/testutil"
	"github.com/grapevine-kv/grapevine/internal/wire"
	"github.com/grapevine-kv/grapevine/node"
	"github.com/grapevine-kv/grapevine/node/nodetest"
	ic "github.com/libp2p/go-libp2p/core/crypto"
	libp2ppeer "github.com/libp2p/go-libp2p/core/peer"
)

const signedNS = "payments"

// refused is node n's grapevine_refused_states_total for ns and reason.
func refused(tb testing.TB, n *node.Node, ns, reason string) float64 {
	tb.Helper()
	mfs, err := n.Metrics().Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "grapevine_refused_states_total" {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if (l.GetName() == "namespace" && l.GetValue() != ns) || (l.GetName() == "reason" && l.GetValue() != reason) {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// privKey is cluster node i's identity key.
func privKey(tb testing.TB, c *nodetest.Cluster, i int) ic.PrivKey {
	h := c.Config(i).Host
	k := h.Peerstore().PrivKey(h.ID())
	if k == nil {
		tb.Fatalf("node %d has no private key", i)
	}
	return k
}

func signReg(tb testing.TB, k ic.PrivKey, ns, key string, r crdt.Register) crdt.Register {
	sig, err := k.Sign(crdt.AppendRegisterPayload(nil, ns, []byte(key), r))
	if err != nil {
		tb.Fatal(err)
	}
	r.Sig = sig
	return r
}

func signSlot(tb testing.TB, k ic.PrivKey, ns, key string, id crdt.ReplicaID, s crdt.Slot) crdt.Slot {
	sig, err := k.Sign(crdt.AppendSlotPayload(nil, ns, []byte(key), id, s))
	if err != nil {
		tb.Fatal(err)
	}
	s.Sig = string(sig)
	return s
}

// nsDigest is the part of n's digest for namespace ns.
func nsDigest(n *node.Node, ns string) string {
	for _, part := range strings.Split(n.DigestForTest(), ";") {
		if strings.HasPrefix(part, ns+":") {
			return part
		}
	}
	return ""
}

// storedState is node n's stored state of key in ns (nil if none).
func storedState(tb testing.TB, n *node.Node, ns, key string) crdt.State {
	tb.Helper()
	var st crdt.State
	err := n.StatesForTest(ns, func(k, enc []byte) error {
		if string(k) != key {
			return nil
		}
		s, err := crdt.Decode(enc)
		st = s
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return st
}

// TestSignedNamespaceReplicates: writers' puts, deletes and increments
// reach every node through a peer that may not write the namespace (it
// relays them unchanged), are stored signed, verify everywhere (nothing is
// refused), and the relay's own writes there fail with ErrForbidden while
// other namespaces stay open to it.
func TestSignedNamespaceReplicates(t *testing.T) {
	// 0 and 1 write; 2 only relays between them.
	c := nodetest.NewCluster(t, 3, nodetest.Unconnected(), nodetest.Writers(signedNS, 0, 1))
	c.Connect(0, 2)
	c.Connect(2, 1)
	n0, n1, n2 := c.Node(0), c.Node(1), c.Node(2)
	ctx := context.Background()
	if _, err := n0.Put(ctx, signedNS, []byte("k"), []byte("from-0")); err != nil {
		t.Fatal(err)
	}
	if _, err := n1.Put(ctx, signedNS, []byte("gone"), []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := n1.Delete(ctx, signedNS, []byte("gone")); err != nil {
		t.Fatal(err)
	}
	for i, n := range []*node.Node{n0, n1, n0} {
		if _, err := n.Incr(ctx, signedNS, []byte("c"), int64(i+1)); err != nil {
			t.Fatal(err)
		}
	}
	for i, n := range c.Nodes() {
		testutil.Eventually(t, fmt.Sprintf("signed writes on node %d", i), func() bool {
			v, err := n.Get(ctx, signedNS, []byte("k"))
			cv, _ := n.Counter(ctx, signedNS, []byte("c"))
			_, gone := n.Get(ctx, signedNS, []byte("gone"))
			return err == nil && string(v.Data) == "from-0" && cv == 6 && errors.Is(gone, node.ErrNotFound)
		})
	}
	c.WaitConverged()
	for i, n := range c.Nodes() {
		for _, reason := range []string{"unsigned", "not_writer", "bad_signature"} {
			if got := refused(t, n, signedNS, reason); got != 0 {
				t.Errorf("node %d refused %v honest states (%s)", i, got, reason)
			}
		}
		err := n.StatesForTest(signedNS, func(key, enc []byte) error {
			if enc[0] != 2 {
				return fmt.Errorf("key %q stored unsigned: %x", key, enc)
			}
			return nil
		})
		if err != nil {
			t.Errorf("node %d: %v", i, err)
		}
	}
	before := n2.DigestForTest()
	if _, err := n2.Put(ctx, signedNS, []byte("k"), []byte("relay")); !errors.Is(err, node.ErrForbidden) {
		t.Errorf("non-writer Put = %v, want ErrForbidden", err)
	}
	if err := n2.Delete(ctx, signedNS, []byte("k")); !errors.Is(err, node.ErrForbidden) {
		t.Errorf("non-writer Delete = %v, want ErrForbidden", err)
	}
	if _, err := n2.Incr(ctx, signedNS, []byte("c"), 1); !errors.Is(err, node.ErrForbidden) {
		t.Errorf("non-writer Incr = %v, want ErrForbidden", err)
	}
	if after := n2.DigestForTest(); after != before {
		t.Errorf("refused writes changed the store: %s -> %s", before, after)
	}
	if _, err := n2.Put(ctx, "", []byte("open"), []byte("yes")); err != nil {
		t.Errorf("Put in an open namespace: %v", err)
	}
}

// forgery is a state a rogue offers, the reason it must be refused, and
// the key it is stored under.
type forgery struct {
	name, reason, key string
	state             crdt.State
}

// forgeries builds, by hand, states that claim writer w's origin (or the
// rogue's), none of which an honest receiver may accept. legit is a state
// w signed (key "k"), whose signature gets moved.
func forgeries(t *testing.T, c *nodetest.Cluster, w, rogue int, legit crdt.Register, at crdt.Timestamp) []forgery {
	wk, rk := privKey(t, c, w), privKey(t, c, rogue)
	wid, rid := c.Node(w).ID(), c.Node(rogue).ID()
	// Each forged register is later than the one before, so that the rogue
	// (which merges what it holds) offers every one of them.
	evil := func(i int) crdt.Register {
		return crdt.Register{Time: at + crdt.Timestamp(i)<<16, Origin: wid, Value: []byte("evil")}
	}
	moved := legit
	slot := signSlot(t, wk, signedNS, "c", wid, crdt.Slot{P: 1})
	return []forgery{
		{"wrong key's signature", "bad_signature", "k", signReg(t, rk, signedNS, "k", evil(0))},
		{"no signature", "unsigned", "k", evil(1)},
		{"valid signature moved to another key", "bad_signature", "k2", moved},
		{"valid signature, other value", "bad_signature", "k", crdt.Register{Time: legit.Time, Origin: wid, Value: []byte("evil"), Sig: legit.Sig}},
		{"valid signature of an unauthorised origin", "not_writer", "k",
			signReg(t, rk, signedNS, "k", crdt.Register{Time: at + 2<<16, Origin: rid, Value: []byte("evil")})},
		{"unsigned counter slot", "unsigned", "c", crdt.NewCounter(map[crdt.ReplicaID]crdt.Slot{wid: {P: 1000}})},
		{"counter slot signed by the wrong key", "bad_signature", "c",
			crdt.NewCounter(map[crdt.ReplicaID]crdt.Slot{wid: signSlot(t, rk, signedNS, "c", wid, crdt.Slot{P: 1001})})},
		{"valid slot moved to a higher count", "bad_signature", "c",
			crdt.NewCounter(map[crdt.ReplicaID]crdt.Slot{wid: {P: 1002, Sig: slot.Sig}})},
		{"valid slot beside a forged one", "not_writer", "c", crdt.NewCounter(map[crdt.ReplicaID]crdt.Slot{
			wid: signSlot(t, wk, signedNS, "c", wid, crdt.Slot{P: 1003}),
			rid: signSlot(t, rk, signedNS, "c", rid, crdt.Slot{P: 1003}),
		})},
		// Resets and sets carry no signature (node/set.go).
		{"counter reset beside a valid slot", "unsigned", "r", func() crdt.Counter {
			c := crdt.NewCounter(map[crdt.ReplicaID]crdt.Slot{wid: signSlot(t, wk, signedNS, "r", wid, crdt.Slot{P: 7})})
			return c.Merge(c.Reset(rid, at))
		}()},
		{"a set", "unsigned", "s", func() crdt.Set { s, _ := crdt.Set{}.Add(wid, []byte("evil")); return s }()},
	}
}

// TestRogueForgesTrustedOrigin: a rogue peer (no writer list of its own)
// offers forged states claiming the writer's origin, through anti-entropy
// and through gossip. The victim refuses each one, counts it by reason, and
// its store does not change; a validly signed state in the same
// anti-entropy chunk still applies, and a validly signed state the rogue
// relays by gossip is accepted.
func TestRogueForgesTrustedOrigin(t *testing.T) {
	const writer, victim, rogue = 0, 1, 2
	c := nodetest.NewCluster(t, 3, nodetest.Writers(signedNS, writer),
		nodetest.Configure(func(i int, cfg *node.Config) {
			cfg.ManualSync = true
			if i == rogue {
				cfg.Writers = nil
			}
		}))
	w, v, r := c.Node(writer), c.Node(victim), c.Node(rogue)
	ctx := context.Background()
	if _, err := w.Put(ctx, signedNS, []byte("k"), []byte("good")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Incr(ctx, signedNS, []byte("c"), 5); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*node.Node{v, r} {
		if _, err := n.SyncWith(ctx, libp2ppeer.ID(w.ID())); err != nil {
			t.Fatal(err)
		}
	}
	legit, _ := storedState(t, w, signedNS, "k").(crdt.Register)
	if len(legit.Sig) == 0 {
		t.Fatalf("writer stored %#v, want a signed register", legit)
	}
	at := legit.Time + 1<<16 // later than every honest write
	wk := privKey(t, c, writer)

	t.Run("anti-entropy", func(t *testing.T) {
		for _, f := range forgeries(t, c, writer, rogue, legit, at) {
			n0 := refused(t, v, signedNS, f.reason)
			// A valid state of a new key rides in the same chunk.
			good := fmt.Sprintf("good-%s", f.name)
			ok := signReg(t, wk, signedNS, good, crdt.Register{Time: at, Origin: w.ID(), Value: []byte("ok")})
			if err := r.InjectForTest(signedNS, []wire.Delta{{Key: []byte(f.key), State: f.state}, {Key: []byte(good), State: ok}}); err != nil {
				t.Fatal(err)
			}
			if _, err := v.SyncWith(ctx, libp2ppeer.ID(r.ID())); err != nil {
				t.Fatal(err)
			}
			if got := refused(t, v, signedNS, f.reason); got <= n0 {
				t.Errorf("%s: refused[%s] = %v, not counted", f.name, f.reason, got)
			}
			if got, err := v.Get(ctx, signedNS, []byte(good)); err != nil || string(got.Data) != "ok" {
				t.Errorf("%s: the valid state of the same chunk was not applied: %v", f.name, err)
			}
			if err := w.InjectForTest(signedNS, []wire.Delta{{Key: []byte(good), State: ok}}); err != nil {
				t.Fatal(err)
			}
			if st := storedState(t, v, signedNS, f.key); st != nil && string(crdt.Encode(st)) == string(crdt.Encode(f.state)) {
				t.Errorf("%s: victim stored the forgery", f.name)
			}
			if err := v.Delete(ctx, signedNS, []byte(good)); !errors.Is(err, node.ErrForbidden) {
				t.Fatalf("victim may not write: %v", err)
			}
		}
		// Only the valid states changed the victim: it matches the writer.
		if v.DigestForTest() != w.DigestForTest() {
			t.Errorf("victim and writer differ after the forgeries")
		}
	})

	t.Run("gossip", func(t *testing.T) {
		c.WarmUp()
		before := nsDigest(v, signedNS)
		for _, f := range forgeries(t, c, writer, rogue, legit, at+16<<16) {
			n0 := refused(t, v, signedNS, f.reason)
			testutil.Eventually(t, "gossiped "+f.name+" refused", func() bool {
				if err := r.PublishForTest(ctx, signedNS, []wire.Delta{{Key: []byte(f.key), State: f.state}}); err != nil {
					t.Fatal(err)
				}
				return refused(t, v, signedNS, f.reason) > n0
			})
			if after := nsDigest(v, signedNS); after != before {
				t.Fatalf("%s by gossip changed the victim: %s -> %s", f.name, before, after)
			}
		}
		// The rogue relays a valid state unchanged: that one is accepted.
		relayed := signReg(t, wk, signedNS, "relayed", crdt.Register{Time: at, Origin: w.ID(), Value: []byte("fine")})
		testutil.Eventually(t, "relayed valid state accepted", func() bool {
			if err := r.PublishForTest(ctx, signedNS, []wire.Delta{{Key: []byte("relayed"), State: relayed}}); err != nil {
				t.Fatal(err)
			}
			got, err := v.Get(ctx, signedNS, []byte("relayed"))
			return err == nil && string(got.Data) == "fine"
		})
	})
}

// TestStaleSignatureReplay: an older, validly signed state of a key (a
// register and a counter slot), replayed through anti-entropy and gossip,
// is accepted as valid but loses the merge: nothing changes.
func TestStaleSignatureReplay(t *testing.T) {
	const writer, victim, rogue = 0, 1, 2
	c := nodetest.NewCluster(t, 3, nodetest.Writers(signedNS, writer),
		nodetest.Configure(func(i int, cfg *node.Config) { cfg.ManualSync = true }))
	w, v, r := c.Node(writer), c.Node(victim), c.Node(rogue)
	ctx := context.Background()
	if _, err := w.Put(ctx, signedNS, []byte("k"), []byte("old")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Incr(ctx, signedNS, []byte("c"), 5); err != nil {
		t.Fatal(err)
	}
	oldReg, oldCnt := storedState(t, w, signedNS, "k"), storedState(t, w, signedNS, "c")
	if _, err := w.Put(ctx, signedNS, []byte("k"), []byte("new")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Incr(ctx, signedNS, []byte("c"), -2); err != nil {
		t.Fatal(err)
	}
	if _, err := v.SyncWith(ctx, libp2ppeer.ID(w.ID())); err != nil {
		t.Fatal(err)
	}
	c.WarmUp()
	before := nsDigest(v, signedNS)
	stale := []wire.Delta{{Key: []byte("k"), State: oldReg}, {Key: []byte("c"), State: oldCnt}}
	received := gossipReceived(t, v)
	testutil.Eventually(t, "stale gossip received", func() bool {
		if err := r.PublishForTest(ctx, signedNS, stale); err != nil {
			t.Fatal(err)
		}
		return gossipReceived(t, v) > received
	})
	if err := r.InjectForTest(signedNS, stale); err != nil {
		t.Fatal(err)
	}
	if _, err := v.SyncWith(ctx, libp2ppeer.ID(r.ID())); err != nil {
		t.Fatal(err)
	}
	if after := nsDigest(v, signedNS); after != before {
		t.Errorf("stale replay changed the victim: %s -> %s", before, after)
	}
	got, err := v.Get(ctx, signedNS, []byte("k"))
	cv, _ := v.Counter(ctx, signedNS, []byte("c"))
	if err != nil || string(got.Data) != "new" || cv != 3 {
		t.Errorf("victim holds %q, %d after the replay; want new, 3", got.Data, cv)
	}
}

func TestWritersConfigValidation(t *testing.T) {
	cfg := nodetest.Config(t)
	good := cfg.Host.ID()
	rsa := libp2ppeer.ID("QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N") // a hash-based ID: no embedded key
	for name, w := range map[string]map[string][]libp2ppeer.ID{
		"bad namespace name": {"Bad/Name": {good}},
		"empty list":         {"pay": nil},
		"no embedded key":    {"pay": {rsa}},
		"garbage ID":         {"pay": {libp2ppeer.ID("nope")}},
	} {
		c := cfg
		c.Writers = w
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %v", name, w)
		}
	}
	cfg.Writers = map[string][]libp2ppeer.ID{"pay": {good}}
	if err := cfg.Validate(); err != nil {
		t.Errorf("valid writer list refused: %v", err)
	}
}

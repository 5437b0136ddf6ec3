package node_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/internal/testutil"
	"github.com/grapevine-kv/grapevine/node"
	"github.com/grapevine-kv/grapevine/node/nodetest"
)

// skewedWall is a wall clock running with real time plus an offset a test
// moves forward; nodes that share one agree on the time.
type skewedWall struct{ offset atomic.Int64 }

func (w *skewedWall) now() time.Time       { return time.Now().Add(time.Duration(w.offset.Load())) }
func (w *skewedWall) skip(d time.Duration) { w.offset.Add(int64(d)) }

func TestConditionalWritesOnOnePeer(t *testing.T) {
	n := nodetest.Start(t, nodetest.Config(t))
	ctx := context.Background()
	k := []byte("lock")
	v1, err := n.PutWith(ctx, "", k, []byte("a"), node.WriteOptions{IfAbsent: true})
	if err != nil {
		t.Fatalf("put-if-absent on an absent key: %v", err)
	}
	_, err = n.PutWith(ctx, "", k, []byte("b"), node.WriteOptions{IfAbsent: true})
	var ce *node.ConditionError
	if !errors.Is(err, node.ErrPreconditionFailed) || !errors.As(err, &ce) || ce.Current != v1 {
		t.Fatalf("put-if-absent on a present key: %v; want ErrPreconditionFailed with version %d", err, v1)
	}
	if _, err := n.PutWith(ctx, "", k, []byte("c"), node.WriteOptions{IfVersion: v1 + 1}); !errors.Is(err, node.ErrPreconditionFailed) {
		t.Fatalf("CAS on a wrong version: %v", err)
	}
	if err := n.DeleteWith(ctx, "", k, node.WriteOptions{IfVersion: v1 + 1}); !errors.Is(err, node.ErrPreconditionFailed) {
		t.Fatalf("conditional delete on a wrong version: %v", err)
	}
	if got, err := n.Get(ctx, "", k); err != nil || string(got.Data) != "a" || got.Version != v1 {
		t.Fatalf("after refused writes: %q v%d, %v; want a v%d", got.Data, got.Version, err, v1)
	}
	v2, err := n.PutWith(ctx, "", k, []byte("d"), node.WriteOptions{IfVersion: v1})
	if err != nil {
		t.Fatalf("CAS on the current version: %v", err)
	}
	if err := n.DeleteWith(ctx, "", k, node.WriteOptions{IfVersion: v2}); err != nil {
		t.Fatalf("conditional delete on the current version: %v", err)
	}
	// Deleted counts as absent.
	if _, err := n.PutWith(ctx, "", k, []byte("e"), node.WriteOptions{IfAbsent: true}); err != nil {
		t.Fatalf("put-if-absent on a deleted key: %v", err)
	}
	if _, err := n.PutWith(ctx, "", k, nil, node.WriteOptions{IfAbsent: true, IfVersion: 5}); !errors.Is(err, node.ErrInvalidArgument) {
		t.Fatalf("both conditions: %v, want ErrInvalidArgument", err)
	}
}

// TestCASRaceAcrossPeers: two peers cut off from each other each accept a
// CAS on the same version; after the partition heals one write wins on
// both, and the loser's peer counts it in grapevine_cas_overwritten_total.
func TestCASRaceAcrossPeers(t *testing.T) {
	c := nodetest.NewCluster(t, 2)
	c.WarmUp()
	a, b := c.Node(0), c.Node(1)
	ctx := context.Background()
	k := []byte("leader")
	v0, err := a.Put(ctx, "", k, []byte("none"))
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the first version on b", func() bool {
		v, err := b.Get(ctx, "", k)
		return err == nil && v.Version == v0
	})
	c.Partition(0)
	va, errA := a.PutWith(ctx, "", k, []byte("a"), node.WriteOptions{IfVersion: v0})
	vb, errB := b.PutWith(ctx, "", k, []byte("b"), node.WriteOptions{IfVersion: v0})
	if errA != nil || errB != nil {
		t.Fatalf("both CAS on version %d must be accepted, each on its peer: %v, %v", v0, errA, errB)
	}
	c.Heal()
	c.WaitConverged()
	// LWW picks one: the greater (version, origin).
	w, err := a.Get(ctx, "", k)
	if err != nil {
		t.Fatal(err)
	}
	winner, loser := string(w.Data), a
	switch {
	case winner == "a" && w.Version == va:
		loser = b
	case winner == "b" && w.Version == vb:
	default:
		t.Fatalf("converged on %q v%d, neither CAS write (a v%d, b v%d)", w.Data, w.Version, va, vb)
	}
	for i, nd := range c.Nodes() {
		if v, err := nd.Get(ctx, "", k); err != nil || string(v.Data) != winner {
			t.Fatalf("node %d holds %q, %v; want the later write %q", i, v.Data, err, winner)
		}
	}
	testutil.Eventually(t, "the overwritten CAS counted on the losing peer", func() bool {
		return counterSum(t, loser, "grapevine_cas_overwritten_total") == 1
	})
	if got := counterSum(t, a, "grapevine_cas_overwritten_total") + counterSum(t, b, "grapevine_cas_overwritten_total"); got != 1 {
		t.Fatalf("grapevine_cas_overwritten_total sums to %v over both peers, want 1", got)
	}
}

// TestTTLExpiresOnEveryPeer: a value written with a TTL is read on every
// peer until it expires, then is absent everywhere (Get, List,
// conditions), and a watcher sees one expire event.
func TestTTLExpiresOnEveryPeer(t *testing.T) {
	wall := &skewedWall{}
	c := nodetest.NewCluster(t, 3, nodetest.Configure(func(_ int, cfg *node.Config) { cfg.Wall = wall.now }))
	c.WarmUp()
	ctx := context.Background()
	events, err := c.Node(2).Watch(ctx, "", []byte("session/"))
	if err != nil {
		t.Fatal(err)
	}
	k := []byte("session/1")
	if _, err := c.Node(0).PutWith(ctx, "", k, []byte("alive"), node.WriteOptions{TTL: 30 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Node(0).Put(ctx, "", []byte("session/keep"), []byte("forever")); err != nil {
		t.Fatal(err)
	}
	for i, nd := range c.Nodes() {
		testutil.Eventually(t, fmt.Sprintf("the value on node %d", i), func() bool {
			v, err := nd.Get(ctx, "", k)
			return err == nil && string(v.Data) == "alive" && !v.Expires.IsZero() && hasValue(nd, "", "session/keep", []byte("forever"))
		})
	}
	for range 2 { // the two puts
		<-events
	}
	wall.skip(31 * time.Second)
	for i, nd := range c.Nodes() {
		if _, err := nd.Get(ctx, "", k); !errors.Is(err, node.ErrNotFound) {
			t.Fatalf("node %d: Get after expiry: %v, want ErrNotFound", i, err)
		}
		page, err := nd.List(ctx, "", node.ListOptions{Prefix: []byte("session/")})
		if err != nil || len(page.Entries) != 1 || string(page.Entries[0].Key) != "session/keep" {
			t.Fatalf("node %d: List after expiry: %+v, %v; want only session/keep", i, page.Entries, err)
		}
	}
	ev := <-events
	if !ev.Expired || string(ev.Key) != string(k) {
		t.Fatalf("watch event %+v, want the expiry of %s", ev, k)
	}
	// Expired is absent for conditions too, and a new put refreshes it.
	if _, err := c.Node(1).PutWith(ctx, "", k, []byte("again"), node.WriteOptions{IfAbsent: true, TTL: time.Minute}); err != nil {
		t.Fatalf("put-if-absent on an expired key: %v", err)
	}
	ev = <-events
	if ev.Expired || string(ev.Value.Data) != "again" {
		t.Fatalf("after the refresh: event %+v, want the new value, and one expire event only", ev)
	}
}

// TestTxnAllOrNothingAndWholeOnAnotherPeer: a refused op leaves nothing
// changed; a committed transaction is published as one gossip message and
// another peer applies it whole.
func TestTxnAllOrNothingAndWholeOnAnotherPeer(t *testing.T) {
	c := nodetest.NewCluster(t, 2)
	c.WarmUp()
	a, b := c.Node(0), c.Node(1)
	ctx := context.Background()
	if _, err := a.Put(ctx, "", []byte("taken"), []byte("x")); err != nil {
		t.Fatal(err)
	}
	_, err := a.Txn(ctx, "", []node.TxnOp{
		{Kind: node.TxnPut, Key: []byte("t/a"), Value: []byte("1")},
		{Kind: node.TxnPut, Key: []byte("taken"), Value: []byte("2"), WriteOptions: node.WriteOptions{IfAbsent: true}},
	})
	if !errors.Is(err, node.ErrPreconditionFailed) {
		t.Fatalf("txn with a failing condition: %v, want ErrPreconditionFailed", err)
	}
	if _, err := a.Get(ctx, "", []byte("t/a")); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("a refused txn wrote t/a: %v", err)
	}
	if _, err := a.Txn(ctx, "", make([]node.TxnOp, node.MaxTxnOps+1)); !errors.Is(err, node.ErrTxnTooLarge) {
		t.Fatalf("a txn of %d ops: %v, want ErrTxnTooLarge", node.MaxTxnOps+1, err)
	}
	if _, err := a.Txn(ctx, "", []node.TxnOp{{Kind: node.TxnPut, Key: []byte("big"), Value: make([]byte, node.MaxTxnBytes)}}); !errors.Is(err, node.ErrTxnTooLarge) {
		t.Fatalf("a txn of %d bytes: %v, want ErrTxnTooLarge", node.MaxTxnBytes, err)
	}

	// Gossip goes out after the ack: let what a committed so far go out
	// before counting messages.
	if err := a.FlushPublishForTest(ctx); err != nil {
		t.Fatal(err)
	}
	published := counterSum(t, a, "grapevine_gossip_messages_published_total")
	ops := []node.TxnOp{{Kind: node.TxnDelete, Key: []byte("taken")}, {Kind: node.TxnIncr, Key: []byte("t/n"), By: 2}}
	for i := range 20 {
		ops = append(ops, node.TxnOp{Kind: node.TxnPut, Key: fmt.Appendf(nil, "t/%02d", i), Value: []byte("v")})
	}
	res, err := a.Txn(ctx, "", ops)
	if err != nil {
		t.Fatal(err)
	}
	if res[1].Counter != 2 || res[2].Version == 0 {
		t.Fatalf("results %+v", res[:3])
	}
	// b applies it in one storage transaction: once one key is there, all are.
	testutil.Eventually(t, "the txn on b", func() bool {
		_, err := b.Get(ctx, "", []byte("t/00"))
		return err == nil
	})
	if got := counterSum(t, a, "grapevine_gossip_messages_published_total") - published; got != 1 {
		t.Fatalf("the txn was published as %v gossip messages, want 1", got)
	}
	page, err := b.List(ctx, "", node.ListOptions{Prefix: []byte("t/")})
	registers := 0
	for _, e := range page.Entries {
		if e.Type == crdt.TypeRegister {
			registers++
		}
	}
	if err != nil || registers != 20 {
		t.Fatalf("b lists %d values of the txn, %v; want all 20", registers, err)
	}
	if n, err := b.Counter(ctx, "", []byte("t/n")); err != nil || n != 2 {
		t.Fatalf("counter on b = %d, %v; want 2", n, err)
	}
	if _, err := b.Get(ctx, "", []byte("taken")); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("the txn's delete on b: %v", err)
	}
}

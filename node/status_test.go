package node_test

import (
	"context"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/internal/testutil"
	"github.com/grapevine-kv/grapevine/node"
	"github.com/grapevine-kv/grapevine/node/nodetest"
)

// TestStatusCountsForTheDashboard: Status counts the writes applied (own
// and received), sums each namespace's sync rounds (with whom, when, bytes
// each way) and its stored bytes, and Peers tells since when a peer is
// connected — the figures the dashboard turns into rates. (The test
// network, mocknet, keeps no connection open time: TestDashboard sees
// ConnectedSince over real connections.)
func TestStatusCountsForTheDashboard(t *testing.T) {
	c := nodetest.NewCluster(t, 2, nodetest.Configure(func(_ int, cfg *node.Config) { cfg.ManualSync = true }))
	c.WarmUp()
	a, b := c.Node(0), c.Node(1)
	ctx := context.Background()
	before := a.Status().Applied
	for _, k := range []string{"x", "y", "z"} {
		if _, err := a.Put(ctx, "", []byte(k), []byte("some value")); err != nil {
			t.Fatal(err)
		}
	}
	if got := a.Status().Applied; got.Local != before.Local+3 {
		t.Fatalf("Applied.Local went from %d to %d after 3 writes", before.Local, got.Local)
	}
	testutil.Eventually(t, "b applies a's writes", func() bool { return b.Status().Applied.Remote >= 3 })

	if _, err := b.Put(ctx, "", []byte("only-b"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := a.SyncWith(ctx, b.Peer().ID()); err != nil {
		t.Fatal(err)
	}
	ns := a.Status().Namespaces[node.DefaultNamespace]
	r := ns.Rounds
	if r.LastPeer != b.Peer().ID().String() || r.Last.Before(start) || r.BytesSent == 0 || r.BytesReceived == 0 {
		t.Errorf("rounds after a sync with b: %+v", r)
	}
	if ns.Bytes < uint64(len("some value")*3) {
		t.Errorf("Bytes = %d for 3 values of 10 bytes", ns.Bytes)
	}
}

package node_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/grapevine-kv/grapevine/internal/testutil"
	"github.com/grapevine-kv/grapevine/internal/wire"
	"github.com/grapevine-kv/grapevine/node"
	"github.com/grapevine-kv/grapevine/node/nodetest"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	libp2ppeer "github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// counterSum sums every series of the counter named name in n's metrics.
func counterSum(tb testing.TB, n *node.Node, name string) float64 {
	tb.Helper()
	mfs, err := n.Metrics().Gather()
	if err != nil {
		tb.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// TestLightClientIsNeverASyncPartner connects a libp2p peer that speaks
// identify and GossipSub (subscribed to the network's default topic) but
// not the sync protocol to both nodes of a cluster, like a js-libp2p light
// client: it is never picked for a round (periodic, on-connect or Sync),
// no round fails and grapevine_sync_errors_total stays 0.
func TestLightClientIsNeverASyncPartner(t *testing.T) {
	c := nodetest.NewCluster(t, 2)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel) // stops the light client's GossipSub
	light := c.NewHost()
	ps, err := pubsub.NewGossipSub(ctx, light)
	if err != nil {
		t.Fatal(err)
	}
	topic, err := ps.Join(wire.Topic(c.Config(0).Network, node.DefaultNamespace))
	if err != nil {
		t.Fatal(err)
	}
	sub, err := topic.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Cancel()
	for _, nd := range c.Nodes() {
		h := nd.Peer().Host()
		if err := light.Connect(ctx, libp2ppeer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()}); err != nil {
			t.Fatal(err)
		}
	}
	// Identify has told each node what the light client speaks (so the
	// node has been notified of it and triggered a round, which must
	// not be run).
	for i, nd := range c.Nodes() {
		last := ""
		testutil.Eventually(t, "identify of the light client on node "+string(rune('0'+i)), func() bool {
			protos, err := nd.Peer().Host().Peerstore().GetProtocols(light.ID())
			if err == nil && slices.ContainsFunc(protos, func(p protocol.ID) bool { return strings.HasPrefix(string(p), "/meshsub/") }) {
				return true
			}
			if now := fmt.Sprintf("node %d: light client protocols %v, %v; %v", i, protos, err, nd.Peer().Host().Network().Connectedness(light.ID())); now != last {
				t.Log(now) // only changes, for a failure's diagnosis
				last = now
			}
			return false
		})
	}
	// And each node has identified the other as a grapevine peer (a Sync
	// before that has no partner at all).
	for i, nd := range c.Nodes() {
		testutil.Eventually(t, fmt.Sprintf("node %d lists the other node as a peer", i), func() bool { return len(nd.Peers()) == 1 })
	}
	if _, err := c.Node(0).Put(ctx, "", []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		st, err := c.Node(i % 2).Sync(ctx)
		if err != nil {
			t.Fatalf("Sync %d on node %d: %v", i, i%2, err)
		}
		if st.Peer == light.ID() {
			t.Fatalf("Sync %d on node %d picked the light client", i, i%2)
		}
	}
	// Periodic rounds run too (every 200 ms); let several happen.
	for i, nd := range c.Nodes() {
		base := counterSum(t, nd, "grapevine_sync_rounds_total")
		testutil.Eventually(t, "periodic rounds on node "+string(rune('0'+i)), func() bool {
			return counterSum(t, nd, "grapevine_sync_rounds_total") >= base+4
		})
	}
	for i, nd := range c.Nodes() {
		if errs := counterSum(t, nd, "grapevine_sync_errors_total"); errs != 0 {
			t.Errorf("node %d: grapevine_sync_errors_total = %v, want 0", i, errs)
		}
		if ps := nd.Peers(); len(ps) != 1 {
			t.Errorf("node %d lists %d peers, want 1 (the light client is not counted)", i, len(ps))
		}
	}
}

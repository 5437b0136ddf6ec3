package node_test

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/internal/testutil"
	"github.com/grapevine-kv/grapevine/internal/wire"
	"github.com/grapevine-kv/grapevine/node"
	"github.com/grapevine-kv/grapevine/node/nodetest"
	"github.com/grapevine-kv/grapevine/peer"
	"github.com/libp2p/go-libp2p/core/network"
	libp2ppeer "github.com/libp2p/go-libp2p/core/peer"
	drouting "github.com/libp2p/go-libp2p/p2p/discovery/routing"
)

// TestHoldersKeepAConnection: two holders of tenant-7 that share no other
// namespace — node 0 replicates tenant-*, node 1 tenant-7 and misc — keep
// a connection to each other through tenant-7's provider records, and
// that connection alone carries tenant-7 between them. Node 2 (misc) is
// their DHT neighbour; it shares no namespace with node 0. Node 0 starts
// holding tenant-7 with its first write, long after node 1 advertised it,
// finds node 1 through the record and protects the connection from its
// connection manager (low watermark 1, no grace). Then node 0's manager
// trims, as it does when a large network's DHT has made it meet too many
// peers: the connections nothing protects go, the holders' stays, and a
// write made after the trim reaches the other holder. The negative
// control does the same with the holder lookup skipped
// (SkipHolderLookupForTest): the trim disconnects the holders, and the
// write does not reach node 1 while it keeps syncing with node 2.
func TestHoldersKeepAConnection(t *testing.T) {
	t.Run("through provider records", func(t *testing.T) { holdersKeepAConnection(t, true) })
	t.Run("without holder lookup", func(t *testing.T) { holdersKeepAConnection(t, false) })
}

func holdersKeepAConnection(t *testing.T, lookup bool) {
	patterns := [][]string{{"tenant-*"}, {"tenant-7", "misc"}, {"misc"}}
	c := nodetest.NewCluster(t, 3, nodetest.ConnGrace(0), nodetest.Configure(func(i int, cfg *node.Config) {
		cfg.Namespaces = patterns[i]
		// An hour: after their start-up rounds, neither the discovery
		// nor the holders loop runs again during the test.
		cfg.Peer.DiscoveryInterval = time.Hour
		// Low watermark 1: a connected peer looks up no more peers, and
		// node 0's manager trims down to one connection. High watermark
		// 8: only the test makes it trim.
		cfg.Peer.LowWater, cfg.Peer.HighWater = 1, 8
	}))
	h0, h1, r := c.Node(0), c.Node(1), c.Node(2)
	id1, idR := h1.Peer().ID(), r.Peer().ID()
	for _, n := range c.Nodes() {
		n.SkipHolderLookupForTest(!lookup)
	}
	// The start-up rounds of the holders and discovery loops are over
	// (each walks the DHT, dialling every peer it finds).
	for _, n := range c.Nodes() {
		waitAdvertised(t, n)
	}
	testutil.Eventually(t, "the holders' rendezvous advertisements", func() bool {
		found := rendezvousPeers(r)
		return found[h0.Peer().ID()] && found[id1]
	})
	ctx := context.Background()
	if _, err := r.Put(ctx, "misc", []byte("m"), []byte("v")); err != nil { // something for 1 and 2 to sync
		t.Fatal(err)
	}

	// Node 0 starts holding tenant-7: it advertises it at once, and looks
	// up and connects to its other holders.
	if _, err := h0.Put(ctx, "tenant-7", []byte("k0"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "node 0 advertising tenant-7", func() bool { return h0.AdvertisedForTest("tenant-7") > 0 })
	testutil.Eventually(t, "k0 on node 1", func() bool { return hasValue(h1, "tenant-7", "k0", []byte("v")) })

	// Before the trim, let the DHT settle: every routing table holds the
	// two other peers, and one refresh of each has ended (a refresh dials
	// every peer it finds; none starts later unless a table changes).
	testutil.Eventually(t, "full routing tables", func() bool {
		for _, n := range c.Nodes() {
			if n.Peer().DHT().RoutingTable().Size() != 2 {
				return false
			}
		}
		return true
	})
	for i, n := range c.Nodes() {
		if err := <-n.Peer().DHT().RefreshRoutingTable(); err != nil {
			t.Fatalf("node %d: refreshing its routing table: %v", i, err)
		}
	}

	// Node 0's connection manager trims down to one connection. Node 2 is
	// worth the most to it (the test says so), and the protections that
	// would spare the other holder without its provider record are lifted:
	// GossipSub's of its mesh peers (a mesh forms only over a connection
	// something else made and kept) and the DHT's of the peers in its two
	// lowest buckets (a few dozen among thousands in a large network;
	// here, by chance, anyone). Only the holders' own protection stands.
	cm := h0.Peer().Host().ConnManager()
	netName := h0.Status().Network
	meshes := map[libp2ppeer.ID][]string{
		id1: {wire.NamespacesTopic(netName), wire.Topic(netName, "tenant-7")},
		idR: {wire.NamespacesTopic(netName)},
	}
	lift := func() {
		for id, topics := range meshes {
			cm.Unprotect(id, "kbucket")
			for _, topic := range topics {
				cm.Unprotect(id, "pubsub:"+topic)
			}
		}
	}
	lift()
	cm.TagPeer(idR, "test-partner", 1000)
	connected := func() bool { return h0.Peer().Host().Network().Connectedness(id1) == network.Connected }
	// k1 must reach node 1 by anti-entropy, which takes a connection
	// between the holders: node 1 drops gossip, which could come relayed by
	// node 2 on the namespaces announcement topic.
	h1.DropGossipForTest(true)
	put := func(key string) {
		t.Helper()
		if _, err := h0.Put(ctx, "tenant-7", []byte(key), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	rounds := func(n int) { // n more anti-entropy rounds of node 1 (with node 2)
		t.Helper()
		r1 := syncRounds(t, h1, "misc")
		testutil.Eventually(t, fmt.Sprintf("%d sync rounds of node 1", n), func() bool { return syncRounds(t, h1, "misc") >= r1+float64(n) })
	}

	if lookup {
		if !cm.IsProtected(id1, "") {
			t.Fatal("node 0 does not protect its connection to the other holder of tenant-7")
		}
		cm.TrimOpenConns(ctx)
		if !connected() {
			t.Fatal("the trim closed the connection between the holders of tenant-7")
		}
		put("k1")
		testutil.Eventually(t, "k1 on node 1", func() bool { return hasValue(h1, "tenant-7", "k1", []byte("v")) })
		if !connected() {
			t.Fatal("the holders of tenant-7 are no longer connected")
		}
		if slices.Contains(r.NamespacesForTest(), "tenant-7") {
			t.Fatal("node 2 stores tenant-7")
		}
		return
	}

	// mocknet resets a closed connection's streams before it drops the
	// connection, so GossipSub, finding the peer still connected, redials
	// it a few times (backing off from 100 ms, at most four times) and
	// grafts it into its mesh again: lift that and trim each such
	// connection again, as the manager's periodic check would, until the
	// holders have stayed apart through ten sync rounds of node 1.
	var reconnects atomic.Int64
	h0.Peer().Host().Network().Notify(&network.NotifyBundle{ConnectedF: func(_ network.Network, conn network.Conn) {
		if conn.RemotePeer() == id1 {
			reconnects.Add(1)
		}
	}})
	for quiet := false; !quiet; {
		if reconnects.Load() > 8 {
			t.Fatalf("the holders reconnected %d times after trims: something other than the provider records dials them", reconnects.Load())
		}
		testutil.Eventually(t, "the trim disconnecting the holders", func() bool {
			if connected() {
				lift()
				cm.TrimOpenConns(ctx)
			}
			return !connected()
		})
		before := reconnects.Load()
		rounds(10)
		quiet = reconnects.Load() == before && !connected()
	}
	before := reconnects.Load()
	put("k1")
	// Node 1 keeps choosing sync partners among the peers it is connected
	// to: it would have found k1 on node 0 had they a connection.
	rounds(10)
	if n := reconnects.Load() - before; n > 0 || connected() {
		t.Fatalf("the holders reconnected (%d times) with no holder lookup: something other than the provider records dials them", n)
	}
	if hasValue(h1, "tenant-7", "k1", []byte("v")) {
		t.Fatal("k1 reached node 1 with no holder lookup: the test does not isolate the provider records")
	}
}

// TestJoinAdvertisesAtOnce: a peer advertises a namespace as soon as it
// starts holding it, not at its next periodic round. With an hour between
// rounds, once node 0 has advertised what it held at start (no retry is
// pending), it writes the first key of tenant-9 (it replicates tenant-*);
// node 2, which does not replicate it, must find node 0 through the
// provider record and forward a read to it well within the hour.
func TestJoinAdvertisesAtOnce(t *testing.T) {
	patterns := [][]string{{"default", "tenant-*"}, {"default"}, {"default"}}
	c := nodetest.NewCluster(t, 3, nodetest.Configure(func(i int, cfg *node.Config) {
		cfg.Namespaces = patterns[i]
		cfg.Peer.DiscoveryInterval = time.Hour
	}))
	for _, n := range c.Nodes() {
		waitAdvertised(t, n)
	}
	ctx := context.Background()
	h0 := c.Node(0)
	if _, err := h0.Put(ctx, "tenant-9", []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "a read of tenant-9 forwarded to node 0", func() bool {
		fctx, by := c.Node(2).TrackServedBy(ctx)
		v, err := c.Node(2).Get(fctx, "tenant-9", []byte("k"))
		return err == nil && string(v.Data) == "v" && by() == h0.Peer().ID().String()
	})
}

// rendezvousPeers returns the peers n finds advertised under its
// network's rendezvous in the DHT (each has ended its first discovery
// round's advertisement).
func rendezvousPeers(n *node.Node) map[libp2ppeer.ID]bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	found := make(map[libp2ppeer.ID]bool)
	infos, err := drouting.NewRoutingDiscovery(n.Peer().DHT()).FindPeers(ctx, peer.Rendezvous(n.Status().Network))
	if err != nil {
		return found
	}
	for info := range infos {
		found[info.ID] = true
	}
	return found
}

// waitAdvertised waits until n has advertised every namespace it holds:
// its holders loop then has no retry pending, and advertises again only
// at its next periodic round or when n joins a namespace.
func waitAdvertised(t *testing.T, n *node.Node) {
	t.Helper()
	testutil.Eventually(t, "the start-up advertisements", func() bool {
		for _, ns := range n.Status().Holds {
			if n.AdvertisedForTest(ns) == 0 {
				return false
			}
		}
		return true
	})
}

// syncRounds returns n's completed anti-entropy rounds in namespace ns.
func syncRounds(tb testing.TB, n *node.Node, ns string) float64 {
	tb.Helper()
	mfs, err := n.Metrics().Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "grapevine_sync_rounds_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "namespace" && l.GetValue() == ns {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

package node_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/internal/testutil"
	"github.com/grapevine-kv/grapevine/node"
	"github.com/grapevine-kv/grapevine/node/nodetest"
)

// gossipReceived is the node's count of valid gossip messages received,
// from its metrics.
func gossipReceived(tb testing.TB, n *node.Node) float64 {
	tb.Helper()
	mfs, err := n.Metrics().Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "grapevine_gossip_messages_received_total" {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	tb.Fatal("no grapevine_gossip_messages_received_total metric")
	return 0
}

func TestPartitionHealsToIdenticalState(t *testing.T) {
	c := nodetest.NewCluster(t, 5)
	nodes := c.Nodes()
	c.Partition(0, 1)
	ctx := context.Background()
	type write struct {
		node       int
		key, value string
	}
	var acked []struct {
		key     string
		version crdt.Timestamp
		origin  crdt.ReplicaID
		value   string
	}
	writes := []write{
		{0, "left-only", "L"}, {3, "right-only", "R"},
		{0, "both", "from-0"}, {1, "both", "from-1"}, {2, "both", "from-2"}, {4, "both", "from-4"},
		{1, "deleted-left", "x"}, {4, "later-right", "old"},
	}
	for i, w := range writes {
		v, err := nodes[w.node].Put(ctx, "", []byte(w.key), []byte(w.value))
		if err != nil {
			t.Fatal(err)
		}
		acked = append(acked, struct {
			key     string
			version crdt.Timestamp
			origin  crdt.ReplicaID
			value   string
		}{w.key, v, nodes[w.node].ID(), w.value})
		_ = i
	}
	if err := nodes[1].Delete(ctx, "", []byte("deleted-left")); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := nodes[0].Incr(ctx, "", []byte("hits"), 2); err != nil {
			t.Fatal(err)
		}
		if _, err := nodes[3].Incr(ctx, "", []byte("hits"), -1); err != nil {
			t.Fatal(err)
		}
	}
	c.Heal()
	c.WaitConverged()

	// The winner of each key is the acknowledged write greatest by (HLC, origin).
	winner := map[string]int{}
	for i, a := range acked {
		if j, ok := winner[a.key]; !ok || a.version > acked[j].version || (a.version == acked[j].version && a.origin > acked[j].origin) {
			winner[a.key] = i
		}
	}
	for key, i := range winner {
		for _, nd := range nodes {
			v, err := nd.Get(ctx, "", []byte(key))
			if key == "deleted-left" {
				if err != node.ErrNotFound {
					t.Fatalf("deleted key came back on %s: %q %v", nd.ID(), v.Data, err)
				}
				continue
			}
			if err != nil || string(v.Data) != acked[i].value || v.Version != acked[i].version {
				t.Fatalf("%s on a peer = %q@%v (%v), want %q@%v", key, v.Data, v.Version, err, acked[i].value, acked[i].version)
			}
		}
	}
	for _, nd := range nodes {
		if v, _ := nd.Counter(ctx, "", []byte("hits")); v != 3 {
			t.Fatalf("counter = %d on a peer, want 3", v)
		}
	}
}

func TestAntiEntropyAloneReplicates(t *testing.T) {
	c := nodetest.NewCluster(t, 4)
	nodes := c.Nodes()
	for _, nd := range nodes {
		nd.DropGossipForTest(true)
	}
	ctx := context.Background()
	for i, nd := range nodes {
		for k := range 50 {
			if _, err := nd.Put(ctx, fmt.Sprint("ns", k%3), []byte(fmt.Sprintf("k%d-%d", i, k)), []byte("v")); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := nd.Incr(ctx, "", []byte("c"), int64(i+1)); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, "convergence without gossip", func() bool { return c.Converged() })
	for _, nd := range nodes {
		if v, _ := nd.Counter(ctx, "", []byte("c")); v != 10 {
			t.Fatalf("counter = %d, want 10", v)
		}
		if got := len(nd.NamespacesForTest()); got != 4 {
			t.Fatalf("%d namespaces on a peer, want 4 (default + ns0..ns2)", got)
		}
		if got := gossipReceived(t, nd); got != 0 {
			t.Fatalf("%v gossip messages delivered despite DropGossipForTest", got)
		}
	}
}

func TestStoppedPeerCatchesUp(t *testing.T) {
	c := nodetest.NewCluster(t, 3, nodetest.OnDisk())
	nodes := c.Nodes()
	ctx := context.Background()
	if _, err := nodes[0].Put(ctx, "", []byte("before"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "first write everywhere", func() bool { return c.Converged() })
	id := c.Node(2).ID()
	c.Stop(2)
	for k := range 200 {
		if _, err := nodes[k%2].Put(ctx, "", []byte(fmt.Sprint("during-", k)), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	// Restart node 2 alone on its side of a partition, so that what it
	// holds before the heal comes from its own data directory.
	c.Partition(2)
	restarted := c.Restart(2)
	if restarted.ID() != id {
		t.Fatalf("restarted as %s, want its own identity %s", restarted.ID(), id)
	}
	if _, err := restarted.Get(ctx, "", []byte("before")); err != nil {
		t.Fatalf("restarted peer lost its data: %v", err)
	}
	c.Heal()
	testutil.Eventually(t, "restarted peer catches up", func() bool { return c.Converged(nodes[0], nodes[1], restarted) })
}

// fill writes n keys straight into a node's storage, in batches.
func fill(t *testing.T, nd *node.Node, n int) {
	t.Helper()
	const batch = 5000
	value := bytes.Repeat([]byte("v"), 100)
	for i := 0; i < n; i += batch {
		var keys, values [][]byte
		for k := i; k < min(n, i+batch); k++ {
			keys, values = append(keys, fmt.Appendf(nil, "key-%07d", k)), append(values, value)
		}
		if err := nd.FillForTest(node.DefaultNamespace, keys, values); err != nil {
			t.Fatal(err)
		}
	}
}

func TestNewPeerBootstrapsAndResumes(t *testing.T) {
	keys := 100_000
	if testing.Short() {
		keys = 20_000
	}
	c := nodetest.NewCluster(t, 2, nodetest.Unconnected(), nodetest.Configure(func(i int, cfg *node.Config) {
		cfg.ManualSync = true // rounds only when the test asks
		cfg.Storage.InMemory = i != 1
	}))
	src, fresh := c.Node(0), c.Node(1)
	fill(t, src, keys)
	ctx := context.Background()
	c.Connect(0, 1)

	// Interrupt the first bootstrap after its first chunk has committed.
	chunks := 0
	fresh.SetBeforeSyncApplyForTest(func() error {
		if chunks++; chunks == 2 {
			return errors.New("interrupted by the test")
		}
		return nil
	})
	if _, err := fresh.SyncWith(ctx, src.Peer().ID()); err == nil {
		t.Fatal("interrupted round reported success")
	}
	fresh.SetBeforeSyncApplyForTest(nil)
	partial := fresh.Status().Namespaces[node.DefaultNamespace].Items
	if partial == 0 || partial >= uint64(keys) {
		t.Fatalf("after the interruption the new peer holds %d of %d keys; want a part", partial, keys)
	}

	// The next round resumes: it transfers only what is missing.
	stats, err := fresh.SyncWith(ctx, src.Peer().ID())
	if err != nil {
		t.Fatal(err)
	}
	if !c.Converged(src, fresh) {
		t.Fatalf("not converged after the second round")
	}
	got := stats.Namespaces[0].StatesReceived
	if got >= keys || got < keys-int(partial) {
		t.Fatalf("second round received %d states; %d were missing", got, keys-int(partial))
	}
	if st := fresh.Status().Namespaces[node.DefaultNamespace]; st.Items != uint64(keys) || st.Sync.Syncing {
		t.Fatalf("status after bootstrap: %+v", st)
	}
	// A further round finds nothing to do.
	stats, err = fresh.SyncWith(ctx, src.Peer().ID())
	if err != nil || !stats.Clean() || stats.Namespaces[0].RoundTrips != 1 {
		t.Fatalf("round on identical replicas: %+v, %v", stats, err)
	}
}

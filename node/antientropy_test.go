package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/storage"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
)

// digest condenses a node's whole state: per namespace, the count and
// fingerprint sum of every stored state.
func digest(n *Node) string {
	var b bytes.Buffer
	for _, ns := range n.db.Namespaces() {
		s := n.db.Summarize(ns, 0, math.MaxUint64)
		fmt.Fprintf(&b, "%s:%d:%x;", ns, s.Count, s.Hash)
	}
	return b.String()
}

func converged(nodes []*Node) bool {
	d := digest(nodes[0])
	for _, n := range nodes[1:] {
		if digest(n) != d {
			return false
		}
	}
	return true
}

// startNodes starts n nodes on mn's hosts (which the caller links and
// connects as it likes), without waiting for gossip.
func startNodes(t *testing.T, mn mocknet.Mocknet, configure func(i int, cfg *Config)) []*Node {
	t.Helper()
	var nodes []*Node
	for i, h := range mn.Hosts() {
		cfg := testConfig(t)
		cfg.Host = h
		if configure != nil {
			configure(i, &cfg)
		}
		nd, err := New(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = nd.Close() })
		if err := nd.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, nd)
	}
	return nodes
}

func partition(t *testing.T, mn mocknet.Mocknet, nodes []*Node, sideA []int) {
	t.Helper()
	inA := map[int]bool{}
	for _, i := range sideA {
		inA[i] = true
	}
	for i := range nodes {
		for j := range nodes {
			if i < j && inA[i] != inA[j] {
				a, b := nodes[i].peer.ID(), nodes[j].peer.ID()
				if err := mn.UnlinkPeers(a, b); err != nil {
					t.Fatal(err)
				}
				_ = mn.DisconnectPeers(a, b)
			}
		}
	}
}

func heal(t *testing.T, mn mocknet.Mocknet) {
	t.Helper()
	if err := mn.LinkAll(); err != nil {
		t.Fatal(err)
	}
	if err := mn.ConnectAllButSelf(); err != nil {
		t.Fatal(err)
	}
}

func TestPartitionHealsToIdenticalState(t *testing.T) {
	mn, err := mocknet.FullMeshConnected(5)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mn.Close() })
	nodes := startNodes(t, mn, nil)
	partition(t, mn, nodes, []int{0, 1})
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
	heal(t, mn)
	eventually(t, "identical state on all five", func() bool { return converged(nodes) })

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
				if err != ErrNotFound {
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
	mn, err := mocknet.FullMeshConnected(4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mn.Close() })
	nodes := startNodes(t, mn, nil)
	for _, nd := range nodes {
		nd.push.SetDropAllForTest(true)
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
	eventually(t, "convergence without gossip", func() bool { return converged(nodes) })
	for _, nd := range nodes {
		if v, _ := nd.Counter(ctx, "", []byte("c")); v != 10 {
			t.Fatalf("counter = %d, want 10", v)
		}
		if got := len(nd.db.Namespaces()); got != 4 {
			t.Fatalf("%d namespaces on a peer, want 4 (default + ns0..ns2)", got)
		}
		if nd.push.Stats().Received != 0 {
			t.Fatalf("gossip delivered despite SetDropAllForTest")
		}
	}
}

func TestStoppedPeerCatchesUp(t *testing.T) {
	mn, err := mocknet.FullMeshConnected(3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mn.Close() })
	dirs := make([]string, 3)
	nodes := startNodes(t, mn, func(i int, cfg *Config) {
		cfg.Storage.InMemory = false
		dirs[i] = cfg.DataDir
	})
	ctx := context.Background()
	if _, err := nodes[0].Put(ctx, "", []byte("before"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "first write everywhere", func() bool { return converged(nodes) })
	if err := nodes[2].Close(); err != nil {
		t.Fatal(err)
	}
	for k := range 200 {
		if _, err := nodes[k%2].Put(ctx, "", []byte(fmt.Sprint("during-", k)), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	// Restart on a new host (mocknet cannot reuse the old one) and the
	// same data directory.
	h, err := mn.GenPeer()
	if err != nil {
		t.Fatal(err)
	}
	heal(t, mn)
	cfg := testConfig(t)
	cfg.Storage.InMemory, cfg.DataDir, cfg.Host = false, dirs[2], h
	restarted, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = restarted.Close() })
	if _, err := restarted.Get(ctx, "", []byte("before")); err != nil {
		t.Fatalf("restarted peer lost its data: %v", err)
	}
	if err := restarted.Start(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, "restarted peer catches up", func() bool { return converged([]*Node{nodes[0], nodes[1], restarted}) })
}

// fill writes n keys straight into a node's storage, in batches.
func fill(t *testing.T, nd *Node, n int) {
	t.Helper()
	const batch = 5000
	value := bytes.Repeat([]byte("v"), 100)
	for i := 0; i < n; i += batch {
		var ops []storage.Op
		for k := i; k < min(n, i+batch); k++ {
			ops = append(ops, storage.Op{Namespace: DefaultNamespace, Key: fmt.Appendf(nil, "key-%07d", k),
				State: crdt.Register{Time: nd.clock.Now(), Origin: nd.self, Value: value}})
		}
		if _, err := nd.db.Apply(ops); err != nil {
			t.Fatal(err)
		}
	}
}

func TestNewPeerBootstrapsAndResumes(t *testing.T) {
	keys := 100_000
	if testing.Short() {
		keys = 20_000
	}
	mn := mocknet.New()
	t.Cleanup(func() { _ = mn.Close() })
	for range 2 {
		if _, err := mn.GenPeer(); err != nil {
			t.Fatal(err)
		}
	}
	if err := mn.LinkAll(); err != nil {
		t.Fatal(err)
	}
	newDir := t.TempDir()
	nodes := startNodes(t, mn, func(i int, cfg *Config) {
		cfg.ManualSync = true // rounds only when the test asks
		if i == 1 {
			cfg.Storage.InMemory, cfg.DataDir = false, newDir
		}
	})
	src, fresh := nodes[0], nodes[1]
	fill(t, src, keys)
	ctx := context.Background()
	if err := mn.ConnectAllButSelf(); err != nil {
		t.Fatal(err)
	}

	// Interrupt the first bootstrap after its first chunk has committed.
	chunks := 0
	fresh.beforeSyncApply = func() error {
		if chunks++; chunks == 2 {
			return errors.New("interrupted by the test")
		}
		return nil
	}
	if _, err := fresh.SyncWith(ctx, src.peer.ID()); err == nil {
		t.Fatal("interrupted round reported success")
	}
	fresh.beforeSyncApply = nil
	partial := fresh.db.Summarize(DefaultNamespace, 0, math.MaxUint64).Count
	if partial == 0 || partial >= uint64(keys) {
		t.Fatalf("after the interruption the new peer holds %d of %d keys; want a part", partial, keys)
	}

	// The next round resumes: it transfers only what is missing.
	stats, err := fresh.SyncWith(ctx, src.peer.ID())
	if err != nil {
		t.Fatal(err)
	}
	if !converged([]*Node{src, fresh}) {
		t.Fatalf("not converged after the second round")
	}
	got := stats.Namespaces[0].StatesReceived
	if got >= keys || got < keys-int(partial) {
		t.Fatalf("second round received %d states; %d were missing", got, keys-int(partial))
	}
	if st := fresh.Status().Namespaces[DefaultNamespace]; st.Items != uint64(keys) || st.Sync.Syncing {
		t.Fatalf("status after bootstrap: %+v", st)
	}
	// A further round finds nothing to do.
	stats, err = fresh.SyncWith(ctx, src.peer.ID())
	if err != nil || !stats.Clean() || stats.Namespaces[0].RoundTrips != 1 {
		t.Fatalf("round on identical replicas: %+v, %v", stats, err)
	}
}

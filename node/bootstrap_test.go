package node_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/internal/testutil"
	"github.com/grapevine-kv/grapevine/node"
	"github.com/grapevine-kv/grapevine/node/nodetest"
)

// Issue 10 point 3: a new peer downloads the store about once, however many
// peers it connects to, and a peer stopped mid-bootstrap downloads about
// what it still misses.

const (
	bootKeys      = 400
	bootValueSize = 8 << 10
	bootEstab     = 3 // established peers; the new peer is node bootEstab
	bootMaxRatio  = 1.1
)

// syncBytesReceived sums grapevine_sync_bytes_received_total over namespaces.
func syncBytesReceived(tb testing.TB, n *node.Node) float64 {
	tb.Helper()
	return sumCounter(tb, n, "grapevine_sync_bytes_received_total")
}

// sumCounter sums n's counter metric name over its labels.
func sumCounter(tb testing.TB, n *node.Node, name string) float64 {
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

// storeBytes sums the key and encoded state bytes of the default namespace.
func storeBytes(tb testing.TB, n *node.Node) (bytes int64, keys int) {
	tb.Helper()
	err := n.StatesForTest(node.DefaultNamespace, func(key, state []byte) error {
		bytes += int64(len(key) + len(state))
		keys++
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return bytes, keys
}

// bootCluster starts bootEstab+1 unconnected nodes (with small chunks; on
// disk if asked, so that the new one keeps what it received across a
// restart),
// fills node 0 with bootKeys values, connects the established peers and
// waits until they hold identical replicas.
func bootCluster(t *testing.T, onDisk bool) *nodetest.Cluster {
	opts := []nodetest.Option{nodetest.Unconnected(),
		nodetest.Configure(func(_ int, cfg *node.Config) { cfg.AntiEntropy.ChunkBytes = 32 << 10 })}
	if onDisk {
		opts = append(opts, nodetest.OnDisk())
	}
	c := nodetest.NewCluster(t, bootEstab+1, opts...)
	rng := rand.New(rand.NewPCG(10, 3))
	keys, values := make([][]byte, bootKeys), make([][]byte, bootKeys)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "boot-%04d", i)
		values[i] = make([]byte, bootValueSize)
		for j := range values[i] {
			values[i][j] = byte(rng.Uint32())
		}
	}
	if err := c.Node(0).FillForTest(node.DefaultNamespace, keys, values); err != nil {
		t.Fatal(err)
	}
	for i := range bootEstab {
		for j := i + 1; j < bootEstab; j++ {
			c.Connect(i, j)
		}
	}
	established := c.Nodes()[:bootEstab]
	testutil.Eventually(t, "established peers converge", func() bool { return c.Converged(established...) })
	return c
}

// settledBytesReceived waits until n's rounds have ended (the metric is
// recorded when a round ends, after its states are visible) and returns
// its sync bytes received: the metric grows by less than 1 KiB (the clean
// periodic rounds) over half a second.
func settledBytesReceived(tb testing.TB, n *node.Node) float64 {
	tb.Helper()
	last := syncBytesReceived(tb, n)
	for range 60 {
		time.Sleep(500 * time.Millisecond) // polling a counter, not synchronising
		cur := syncBytesReceived(tb, n)
		if cur-last < 1<<10 {
			return cur
		}
		last = cur
	}
	tb.Fatal("sync bytes received did not settle in 30 s")
	return 0
}

func joinAll(c *nodetest.Cluster) {
	for j := range bootEstab {
		c.Connect(bootEstab, j)
	}
}

// TestBootstrapDownloadsOnce joins a new peer to bootEstab established
// ones: empty, and holding one key of its own (as a peer that received a
// push before its first round: the peers then stream to it after an item
// list, which the lister is not told about).
func TestBootstrapDownloadsOnce(t *testing.T) {
	t.Run("empty", func(t *testing.T) { testBootstrapDownloadsOnce(t, false) })
	t.Run("one key", func(t *testing.T) { testBootstrapDownloadsOnce(t, true) })
}

func testBootstrapDownloadsOnce(t *testing.T, ownKey bool) {
	c := bootCluster(t, false)
	size, keys := storeBytes(t, c.Node(0))
	if ownKey {
		if err := c.Node(bootEstab).FillForTest(node.DefaultNamespace, [][]byte{[]byte("own")}, [][]byte{[]byte("v")}); err != nil {
			t.Fatal(err)
		}
	}
	joinAll(c)
	var maxKeys uint64
	testutil.Eventually(t, "the new peer converges", func() bool {
		maxKeys = max(maxKeys, c.Node(bootEstab).Status().Namespaces[node.DefaultNamespace].Sync.KeysReceived)
		return c.Converged()
	})
	got := settledBytesReceived(t, c.Node(bootEstab))
	ratio := got / float64(size)
	t.Logf("new peer joining %d peers: received %.0f B for a store of %d B (%d keys): ratio %.3f; progress counted at most %d keys",
		bootEstab, got, size, keys, ratio, maxKeys)
	if ratio > bootMaxRatio {
		t.Errorf("new peer received %.3f× the store, want ≤ %.1f×", ratio, bootMaxRatio)
	}
	if ownKey {
		keys++ // the peers hold the new peer's key once it reached them, and may stream it back
	}
	if maxKeys > uint64(keys) {
		t.Errorf("progress counted %d keys received, the store has %d", maxKeys, keys)
	}
}

// TestBootstrapResumesAfterStop stops a new peer mid-bootstrap and
// restarts it: it receives about what it still misses, each missing key
// once. What it holds is read while it is cut off from the others, before
// any round can add to it.
func TestBootstrapResumesAfterStop(t *testing.T) {
	c := bootCluster(t, true)
	size, keys := storeBytes(t, c.Node(0))
	slow := func() error { time.Sleep(20 * time.Millisecond); return nil } // a slow link or disk
	c.Node(bootEstab).SetBeforeSyncApplyForTest(slow)
	joinAll(c)
	testutil.Eventually(t, "a third of the store received", func() bool {
		return c.Node(bootEstab).Status().Namespaces[node.DefaultNamespace].Items >= bootKeys/3
	})
	old := c.Node(bootEstab)
	c.Stop(bootEstab)
	firstBytes := syncBytesReceived(t, old) // rounds cut by the stop are recorded by Close
	c.Partition(bootEstab)
	n := c.Restart(bootEstab) // alone on its side: no round yet
	held, heldKeys := storeBytes(t, n)
	missing := size - held
	if heldKeys == 0 || heldKeys == keys {
		t.Fatalf("the stop did not interrupt the bootstrap (%d of %d keys held)", heldKeys, keys)
	}
	c.Heal()
	c.WaitConverged()
	got := settledBytesReceived(t, n)
	repaired := syncKeysRepaired(t, n)
	ratio := got / float64(missing)
	t.Logf("stopped after receiving %.0f B (%d of %d keys held); restarted: received %.0f B (%.0f keys repaired) to repair %d B missing (store %d B): ratio %.3f",
		firstBytes, heldKeys, keys, got, repaired, missing, size, ratio)
	if want := float64(keys - heldKeys); repaired != want {
		t.Errorf("restarted peer repaired %.0f keys, it missed %.0f", repaired, want)
	}
	if ratio > bootMaxRatio {
		t.Errorf("restarted peer received %.3f× what it missed, want ≤ %.1f×", ratio, bootMaxRatio)
	}
}

// syncKeysRepaired sums grapevine_sync_keys_repaired_total over namespaces.
func syncKeysRepaired(tb testing.TB, n *node.Node) float64 {
	tb.Helper()
	return sumCounter(tb, n, "grapevine_sync_keys_repaired_total")
}

// TestBootstrapBytesPerKey: a new peer bootstrapping small registers (16-
// byte keys, random 100-byte values) from one peer receives at most 1.3×
// their keys and values, though each state also carries its stamp and its
// writer's 38-byte peer ID: states frames are compressed (wire.HelloS2).
func TestBootstrapBytesPerKey(t *testing.T) {
	const keys, valueSize = 20000, 100
	c := nodetest.NewCluster(t, 2, nodetest.Unconnected())
	rng := rand.New(rand.NewPCG(1, 2))
	ks, vs := make([][]byte, keys), make([][]byte, keys)
	for i := range ks {
		ks[i] = fmt.Appendf(nil, "key-%012d", i)
		vs[i] = make([]byte, valueSize)
		for j := range vs[i] {
			vs[i][j] = byte(rng.Uint32())
		}
	}
	if err := c.Node(0).FillForTest(node.DefaultNamespace, ks, vs); err != nil {
		t.Fatal(err)
	}
	c.Connect(1, 0)
	testutil.EventuallyWithin(t, 2*time.Minute, "the new peer holds the store", func() bool { return c.Converged() })
	got := settledBytesReceived(t, c.Node(1))
	payload := float64(keys * (len(ks[0]) + valueSize))
	t.Logf("received %.0f B for %d keys: %.1f B a key, %.3f× the keys and values", got, keys, got/keys, got/payload)
	if got/payload > 1.3 {
		t.Errorf("a bootstrap received %.3f× the keys and values, want ≤ 1.3×", got/payload)
	}
}

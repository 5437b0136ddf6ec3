package loadgen_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/internal/loadgen"
	"github.com/grapevine-kv/grapevine/node"
)

// TestEmbeddedNodeStoresEveryPut: a timed run against a node on disk
// (real Badger, fsync on) reports as many puts as the node then holds.
func TestEmbeddedNodeStoresEveryPut(t *testing.T) {
	ctx := context.Background()
	n, err := loadgen.StartNode(ctx, loadgen.NodeConfig(t.TempDir(), false))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	cfg := loadgen.DefaultConfig()
	cfg.Clients, cfg.Duration = 8, 300*time.Millisecond
	cfg.Targets = []loadgen.Target{loadgen.NodeTarget{Node: n}}
	r, err := loadgen.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	items := n.Status().Namespaces[node.DefaultNamespace].Items
	if r.Puts == 0 || r.Errors != 0 || items != r.Puts {
		t.Fatalf("%d puts reported (%d errors), the node holds %d keys", r.Puts, r.Errors, items)
	}
}

// TestClusterLag: on a cluster of real peers, the lag tracker reports one
// lag per acknowledged put, and only once the key is on every peer.
func TestClusterLag(t *testing.T) {
	ctx := context.Background()
	c, err := loadgen.StartCluster(ctx, 3, t.TempDir(), true, time.Minute, nil)
	t.Cleanup(func() { _ = c.Close() }) // also the peers started before an error
	if err != nil {
		t.Fatal(err)
	}
	tr, err := loadgen.TrackLag(c.Nodes)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	cfg := loadgen.DefaultConfig()
	cfg.Clients, cfg.Requests = 4, 300
	cfg.Targets = c.Targets()[:1]
	cfg.OnPut = func(_ int, key uint64, ack time.Time) { tr.Acked(0, key, ack) }
	r, err := loadgen.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	lag, err := tr.Wait(ctx, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if r.Puts != 300 || lag.Lag.Count() != 300 || lag.Missing != 0 {
		t.Fatalf("%d puts, %d lags, %d missing; want 300 puts, 300 lags, none missing", r.Puts, lag.Lag.Count(), lag.Missing)
	}
	for p, nd := range c.Nodes {
		for i := range uint64(300) {
			if _, err := nd.Get(ctx, "", loadgen.Key(i)); err != nil {
				t.Fatalf("the tracker reported every key on every peer, but peer %d lacks %s: %v", p, loadgen.Key(i), err)
			}
		}
	}
}

// TestRunPlanBaseline: a plan with --baseline reports the run, raw Badger
// synced puts, a WriteBatch of as many keys as the run put, fdatasync,
// and three ratios.
func TestRunPlanBaseline(t *testing.T) {
	load := loadgen.DefaultConfig()
	load.Clients, load.Requests = 4, 200
	rp, err := loadgen.RunPlan(context.Background(), loadgen.Plan{Load: load, InMemory: true, Baseline: true, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range rp.Rows {
		names = append(names, r.Name)
	}
	if len(rp.Rows) != 4 || rp.Rows[0].Ops != 200 || rp.Rows[1].Ops != 200 || rp.Rows[2].Ops != 200 || rp.Rows[3].Ops == 0 || len(rp.Ratios) != 3 {
		t.Fatalf("rows %q with ops %+v, %d ratios; want the run, badger synced puts, WriteBatch (200 keys each), fdatasync, 3 ratios", names, rp.Rows, len(rp.Ratios))
	}
	var text strings.Builder
	if err := rp.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"badger WriteBatch", "fdatasync 128 B append", "put rate ÷ badger synced puts: "} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("the report lacks %q:\n%s", want, text.String())
		}
	}
}

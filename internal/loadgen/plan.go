package loadgen

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// ErrFailed is returned by RunPlan, with its report, when operations
// failed or acknowledged keys did not reach every peer: the figures
// measured something else than the asked load.
var ErrFailed = errors.New("loadgen: the benchmark saw failures")

// Plan is one benchmark as `grapevine bench` runs it: a load against a
// daemon, an embedded peer or a cluster of them, with baselines.
type Plan struct {
	// Load is the load; RunPlan fills its Targets (but for a daemon),
	// OnPut and, per run, Progress's label.
	Load Config
	// Target is a daemon's door (an HTTPTarget), named TargetName in the
	// report; nil runs embedded peers.
	Target     Target
	TargetName string
	// Dir holds the embedded peers' data (each in its own directory) and
	// the baseline's; "" for a new temporary directory, removed after.
	Dir string
	// InMemory keeps the embedded peers' data in memory (no fsync).
	InMemory bool
	// Cluster, if at least 2, runs Cluster embedded peers on real libp2p
	// over 127.0.0.1, writes at the first (or at all, with Spread), and
	// reports the replication lag; the same load against one peer alone
	// runs first, for the ratio.
	Cluster int
	Spread  bool
	// Baseline adds raw Badger synced puts, a WriteBatch of as many keys
	// as the run put, and fdatasync of 128-byte appends, in BaselineDir
	// (default Dir), and the ratios to them.
	Baseline    bool
	BaselineDir string
	// LagTimeout bounds the wait for the last keys to reach every peer
	// after the load. Default (0) 30 s.
	LagTimeout time.Duration
	// Progress, if set, is called during each timed run with its label.
	Progress func(label string, p Progress)
}

// RunPlan runs p and returns its report. With failures (operations that
// failed, keys not on every peer in time) the report comes with an error
// matching ErrFailed that says what failed.
func RunPlan(ctx context.Context, p Plan) (*Report, error) {
	if p.Cluster == 1 || p.Cluster < 0 || p.Cluster > 64 {
		return nil, fmt.Errorf("loadgen: a cluster has 2 to 64 peers, not %d", p.Cluster)
	}
	if p.Target != nil && p.Cluster > 0 {
		return nil, errors.New("loadgen: a cluster runs embedded peers, not a daemon")
	}
	if p.LagTimeout == 0 {
		p.LagTimeout = 30 * time.Second
	}
	dir := p.Dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "grapevine-bench-")
		if err != nil {
			return nil, fmt.Errorf("loadgen: %w", err)
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	rp := &Report{}
	var failures []string
	main, err := p.runMain(ctx, dir, rp, &failures)
	if err != nil {
		return nil, err
	}
	if p.Baseline {
		bdir := p.BaselineDir
		if bdir == "" {
			bdir = dir
		}
		b, err := Baseline(ctx, bdir, p.withProgress(p.Load, "baseline"), max(main.Puts, 1))
		if err != nil {
			return nil, err
		}
		rp.Rows = append(rp.Rows, b.SyncPuts.Row("badger synced puts"),
			Row{Name: "badger WriteBatch", Ops: b.BatchKeys, Throughput: b.BatchRate()},
			HistRow("fdatasync 128 B append", &b.Fdatasync, 0))
		rp.AddRatio("put rate ÷ badger synced puts", putRate(main), b.SyncPuts.Throughput())
		rp.AddRatio("put rate ÷ badger WriteBatch", putRate(main), b.BatchRate())
		rp.AddRatio("put p50 ÷ fdatasync p50", float64(main.PutLatency.Quantile(0.5)), float64(b.Fdatasync.Quantile(0.5)))
	}
	if main.Errors > 0 {
		failures = append(failures, fmt.Sprintf("%d of %d operations failed; the first: %v", main.Errors, main.Errors+main.Ops(), main.FirstError))
	}
	if len(failures) > 0 {
		rp.Notes = append(rp.Notes, failures...)
		return rp, fmt.Errorf("%w: %s", ErrFailed, failures[0])
	}
	return rp, nil
}

// putRate is a result's acknowledged puts per second.
func putRate(r *Result) float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Puts) / r.Elapsed.Seconds()
}

// withProgress returns cfg with p's Progress under label.
func (p Plan) withProgress(cfg Config, label string) Config {
	if p.Progress != nil {
		cfg.Progress = func(pr Progress) { p.Progress(label, pr) }
	}
	return cfg
}

// runMain runs the load the plan names and adds its rows to rp.
func (p Plan) runMain(ctx context.Context, dir string, rp *Report, failures *[]string) (*Result, error) {
	label := fmt.Sprintf("%s, %d clients", p.Load.Op, p.Load.Clients)
	switch {
	case p.Target != nil:
		cfg := p.withProgress(p.Load, p.Load.Op.String())
		cfg.Targets = []Target{p.Target}
		stopMemory := p.watchMemory(ctx, rp)
		r, err := Run(ctx, cfg)
		stopMemory()
		if err != nil {
			return nil, err
		}
		rp.Rows = append(rp.Rows, r.Row(fmt.Sprintf("%s (%s)", label, p.TargetName)))
		return r, nil
	case p.Cluster == 0:
		r, _, err := p.runPeers(ctx, dir, 1, "embedded")
		if err != nil {
			return nil, err
		}
		rp.Rows = append(rp.Rows, r.Row(fmt.Sprintf("%s (embedded%s)", label, p.storage())))
		return r, nil
	}
	alone, _, err := p.runPeers(ctx, dir, 1, "one peer alone")
	if err != nil {
		return nil, err
	}
	r, lag, err := p.runPeers(ctx, dir, p.Cluster, fmt.Sprintf("cluster of %d", p.Cluster))
	if err != nil {
		return nil, err
	}
	at := "at peer 0"
	if p.Spread {
		at = "spread over all peers"
	}
	rp.Rows = append(rp.Rows, alone.Row(fmt.Sprintf("%s (one peer alone%s)", label, p.storage())),
		r.Row(fmt.Sprintf("%s (%d peers%s, %s)", label, p.Cluster, p.storage(), at)),
		HistRow("replication lag (ack → on every peer)", &lag.Lag, 0))
	rp.AddRatio(fmt.Sprintf("%d-peer rate ÷ one peer alone", p.Cluster), r.Throughput(), alone.Throughput())
	rp.Notes = append(rp.Notes, fmt.Sprintf("the last keys reached every peer %s after the load ended", lag.Waited.Round(time.Millisecond)))
	if lag.Missing > 0 {
		*failures = append(*failures, fmt.Sprintf("%d acknowledged keys were not on every peer %s after the load", lag.Missing, p.LagTimeout))
	}
	return r, nil
}

// metricsReader is a Target that can read its daemon's /metrics.
type metricsReader interface {
	Metrics(ctx context.Context) ([]byte, error)
}

// watchMemory samples the memory of the plan's daemon, if its Target can
// read it, until the returned function is called, which puts the figures
// (or why there are none) in rp.
func (p Plan) watchMemory(ctx context.Context, rp *Report) func() {
	mr, ok := p.Target.(metricsReader)
	if !ok {
		return func() {}
	}
	stop, err := memorySampler(mr.Metrics).watch(ctx)
	if err != nil {
		rp.Notes = append(rp.Notes, fmt.Sprintf("daemon memory: not measured: %v", err))
		return func() {}
	}
	return func() {
		m, err := stop()
		if err != nil {
			rp.Notes = append(rp.Notes, fmt.Sprintf("daemon memory: a sample failed: %v", err))
		}
		rp.Memory = &m
	}
}

// storage names where embedded peers keep their data, for a row's name.
func (p Plan) storage() string {
	if p.InMemory {
		return ", in memory"
	}
	return ", on disk"
}

// runPeers starts n embedded peers in a fresh directory under dir, runs
// the load at them as the plan says, and closes them. With n ≥ 2 it
// tracks the replication lag.
func (p Plan) runPeers(ctx context.Context, dir string, n int, label string) (*Result, LagResult, error) {
	peersDir, err := os.MkdirTemp(dir, "peers-")
	if err != nil {
		return nil, LagResult{}, fmt.Errorf("loadgen: %w", err)
	}
	defer os.RemoveAll(peersDir)
	c, err := StartCluster(ctx, n, peersDir, p.InMemory, time.Minute, nil)
	defer func() { _ = c.Close() }()
	if err != nil {
		return nil, LagResult{}, err
	}
	cfg := p.withProgress(p.Load, label)
	cfg.Targets = c.Targets()
	if !p.Spread {
		cfg.Targets = cfg.Targets[:1]
	}
	if n == 1 {
		r, err := Run(ctx, cfg)
		return r, LagResult{}, err
	}
	t, err := TrackLag(c.Nodes)
	if err != nil {
		return nil, LagResult{}, err
	}
	defer t.Close()
	writers := len(cfg.Targets)
	cfg.OnPut = func(w int, key uint64, ack time.Time) { t.Acked(w%writers, key, ack) }
	r, err := Run(ctx, cfg)
	if err != nil {
		return nil, LagResult{}, err
	}
	lag, err := t.Wait(ctx, p.LagTimeout)
	return r, lag, err
}

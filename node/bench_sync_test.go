//go:build unix

package node_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/grapevine-kv/grapevine/gossip"
	"github.com/grapevine-kv/grapevine/node"
	"github.com/grapevine-kv/grapevine/node/nodetest"
	"github.com/grapevine-kv/grapevine/storage"
)

// Anti-entropy benchmarks of issue 4. Each builds a store of a million keys
// (about 15 s per store), so run them one by one and once:
//
//	go test -run '^$' -bench 'SyncDifferences|Bootstrap|Restart' -benchtime 1x ./node/
//
// Every figure is printed beside a baseline measured in the same run: a
// full-state transfer of the same store, raw Badger WriteBatch of the same
// keys and values, raw badger.Open of the same directory.

const (
	syncBenchValueSize = 100
	syncBenchSeed      = 4 // seeds the values and the choice of differences
)

// syncBenchKeys is n, the keys of every store: 1,000,000 unless
// -args -syncbench.keys=N asks for a quicker run.
var syncBenchKeys = 1_000_000

func init() {
	flag.IntVar(&syncBenchKeys, "syncbench.keys", syncBenchKeys, "keys per store in the anti-entropy benchmarks")
}

var syncBenchProfile = flag.String("syncbench.cpuprofile", "",
	"write a CPU profile of the first measured round of each anti-entropy sub-benchmark to PREFIX-<name>.prof")

// syncBenchConfig is the test profile (nodetest.Config) on a real libp2p
// host listening on loopback TCP, with no discovery and no periodic
// anti-entropy: rounds run only when the benchmark asks.
func syncBenchConfig(b *testing.B, inMemory, sync bool) node.Config {
	cfg := nodetest.Config(b)
	cfg.Host = nil
	cfg.Storage.InMemory = inMemory
	cfg.Storage.SyncWrites = sync
	cfg.ManualSync = true
	cfg.Peer.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0"}
	cfg.Peer.DiscoveryInterval = time.Hour
	return cfg
}

// syncBenchValue returns a value of syncBenchValueSize random bytes (random,
// so that Badger's block compression does not flatter the on-disk stores).
func syncBenchValue(rng *rand.Rand) []byte {
	v := make([]byte, syncBenchValueSize)
	for i := 0; i < len(v); i += 8 {
		u := rng.Uint64()
		for j := i; j < min(i+8, len(v)); j++ {
			v[j] = byte(u)
			u >>= 8
		}
	}
	return v
}

// writeSyncBench writes registers for keys straight into nd's storage (not
// through the apply loop, so nothing is gossiped), in batches.
func writeSyncBench(tb testing.TB, nd *node.Node, keys [][]byte, rng *rand.Rand) {
	tb.Helper()
	const batch = 5000
	for i := 0; i < len(keys); i += batch {
		chunk := keys[i:min(len(keys), i+batch)]
		values := make([][]byte, len(chunk))
		for j := range values {
			values[j] = syncBenchValue(rng)
		}
		if err := nd.FillForTest(node.DefaultNamespace, chunk, values); err != nil {
			tb.Fatal(err)
		}
	}
}

func syncBenchKey(i int) []byte { return fmt.Appendf(nil, "key-%07d", i) }

// fillSyncBench writes keys key-0000000 … key-(n-1) with random 100-byte values.
func fillSyncBench(tb testing.TB, nd *node.Node, n int) {
	tb.Helper()
	rng := rand.New(rand.NewPCG(syncBenchSeed, 1))
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = syncBenchKey(i)
	}
	start := time.Now()
	writeSyncBench(tb, nd, keys, rng)
	tb.Logf("filled %d keys in %v (seed %d)", n, time.Since(start).Round(time.Millisecond), syncBenchSeed)
}

// processCPU is the CPU time (user + system) of the whole process so far.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// waitCPUQuiet collects garbage if asked, then polls the process's CPU time
// until a 20 ms window burns less than 2 ms (Badger compactions, libp2p
// housekeeping and the GC have settled), so that the next measurement
// counts the round and little else. It gives up after 10 s.
func waitCPUQuiet(tb testing.TB, gc bool) {
	tb.Helper()
	if gc {
		runtime.GC()
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c0 := processCPU(tb)
		time.Sleep(20 * time.Millisecond) // a sampling window, not synchronisation
		if processCPU(tb)-c0 < 2*time.Millisecond {
			return
		}
	}
	tb.Logf("process CPU did not settle within 10 s; CPU figures include background work")
}

func medianDuration(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func defaultNSStats(tb testing.TB, st gossip.RoundStats) gossip.NamespaceStats {
	tb.Helper()
	for _, ns := range st.Namespaces {
		if ns.Namespace == node.DefaultNamespace {
			return ns
		}
	}
	tb.Fatalf("round did not reconcile namespace %q: %+v", node.DefaultNamespace, st)
	return gossip.NamespaceStats{}
}

func defaultKeyCount(nd *node.Node) uint64 {
	return nd.Status().Namespaces[node.DefaultNamespace].Items
}

// BenchmarkSyncDifferences runs one anti-entropy round (over loopback TCP,
// in-memory Badger) between two peers each holding 1,000,000 keys with
// 100-byte values that differ in d keys: a quarter each missing on one side,
// missing on the other, changed on one side, changed on the other. It
// reports the bytes each way, round trips and process CPU time (user+system
// of both peers, which share the process, via getrusage) per round, beside
// a full-state transfer of the same store measured in the same run: the
// bootstrap of the second peer from the first.
//
// The pair is built once; each iteration writes d fresh differences (timer
// stopped) and runs one round, which repairs them, so every iteration starts
// from identical replicas. Per-round figures are medians over iterations.
func BenchmarkSyncDifferences(b *testing.B) {
	ctx := context.Background()
	a := nodetest.Start(b, syncBenchConfig(b, true, false))
	c := nodetest.Start(b, syncBenchConfig(b, true, false))
	nodetest.Dial(b, a, c)
	fillSyncBench(b, a, syncBenchKeys)

	// Baseline: a full-state transfer of the same store, to the empty peer.
	waitCPUQuiet(b, true)
	cpu0, t0 := processCPU(b), time.Now()
	st, err := c.SyncWith(ctx, a.Peer().ID())
	fullCPU, fullWall := processCPU(b)-cpu0, time.Since(t0)
	if err != nil {
		b.Fatal(err)
	}
	full := defaultNSStats(b, st)
	if !nodetest.Converged(a, c) || defaultKeyCount(c) != uint64(syncBenchKeys) {
		b.Fatalf("bootstrap left %d keys, not identical replicas of %d", defaultKeyCount(c), syncBenchKeys)
	}
	b.Logf("full-state transfer of %d keys: %d B received, %d B sent, %d round trips, %v CPU, %v wall",
		syncBenchKeys, full.BytesReceived, full.BytesSent, full.RoundTrips, fullCPU.Round(time.Millisecond), fullWall.Round(time.Millisecond))

	rng := rand.New(rand.NewPCG(syncBenchSeed, 2))
	round := 0
	for _, d := range []int{0, 1, 100, 10_000} {
		b.Run(fmt.Sprintf("n=%d/d=%d", syncBenchKeys, d), func(b *testing.B) {
			if need := syncBenchChanged(d); need > syncBenchKeys {
				b.Skipf("d=%d changes %d distinct existing keys, the store has only %d: raise -syncbench.keys", d, need, syncBenchKeys)
			}
			var cpus, walls []time.Duration
			var last gossip.NamespaceStats
			waitCPUQuiet(b, true)
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				round++
				makeSyncBenchDiffs(b, a, c, d, round, rng)
				waitCPUQuiet(b, false)
				stopProfile := func() {}
				if i == 0 {
					stopProfile = startCPUProfile(b)
				}
				b.StartTimer()
				cpu0, t0 := processCPU(b), time.Now()
				st, err := a.SyncWith(ctx, c.Peer().ID())
				cpus, walls = append(cpus, processCPU(b)-cpu0), append(walls, time.Since(t0))
				b.StopTimer()
				stopProfile()
				if err != nil {
					b.Fatal(err)
				}
				last = defaultNSStats(b, st)
				states := last.StatesSent + last.StatesReceived
				if states < d || states > 2*d || !nodetest.Converged(a, c) {
					b.Fatalf("d=%d: %d states exchanged (want %d..%d), converged=%v", d, states, d, 2*d, nodetest.Converged(a, c))
				}
				b.StartTimer()
			}
			b.StopTimer()
			cpu, wall := medianDuration(cpus), medianDuration(walls)
			bytes := last.BytesSent + last.BytesReceived
			b.ReportMetric(float64(last.BytesSent), "B-sent")
			b.ReportMetric(float64(last.BytesReceived), "B-recv")
			b.ReportMetric(float64(last.RoundTrips), "round-trips")
			b.ReportMetric(float64(cpu.Microseconds()), "cpu-µs/round")
			b.ReportMetric(float64(wall.Microseconds()), "wall-µs/round")
			b.ReportMetric(float64(full.BytesReceived), "full-state-B")
			b.ReportMetric(float64(bytes)/float64(full.BytesReceived), "sync/full-bytes")
			b.ReportMetric(float64(cpu)/float64(fullCPU), "sync/full-cpu")
			verdict := ""
			switch d {
			case 0:
				verdict = fmt.Sprintf("goal 1 round trip, ≤ 512 B, ≤ 1 ms CPU: %s", goalVerdict(last.RoundTrips == 1 && bytes <= 512 && cpu <= time.Millisecond))
			case 100:
				verdict = fmt.Sprintf("goal ≤ 100 KiB, ≤ 6 round trips: %s", goalVerdict(bytes <= 100<<10 && last.RoundTrips <= 6))
			}
			b.Logf("n=%d d=%d: %d round trips, %d B sent + %d B received = %d B (%.5f%% of the %d B full-state transfer), %d+%d states, CPU %v (%.4f%% of the transfer's %v CPU, %v wall), wall %v, median of %d; %s",
				syncBenchKeys, d, last.RoundTrips, last.BytesSent, last.BytesReceived, bytes, 100*float64(bytes)/float64(full.BytesReceived), full.BytesReceived,
				last.StatesSent, last.StatesReceived, cpu, 100*float64(cpu)/float64(fullCPU), fullCPU.Round(time.Millisecond), fullWall.Round(time.Millisecond), wall, len(cpus), verdict)
		})
	}
}

func goalVerdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

// makeSyncBenchDiffs makes a and c differ in exactly d keys: in turn a new
// key on a only, a new key on c only, an existing key rewritten on a, an
// existing key rewritten on c (distinct keys, drawn from rng).
func makeSyncBenchDiffs(tb testing.TB, a, c *node.Node, d, round int, rng *rand.Rand) {
	tb.Helper()
	if need := syncBenchChanged(d); need > syncBenchKeys {
		// existing would never find enough distinct keys.
		tb.Fatalf("d=%d changes %d distinct existing keys, the store has only %d", d, need, syncBenchKeys)
	}
	var onA, onC [][]byte
	picked := make(map[int]bool, d)
	existing := func() []byte { // terminates: at most syncBenchKeys are picked
		for {
			i := rng.IntN(syncBenchKeys)
			if !picked[i] {
				picked[i] = true
				return syncBenchKey(i)
			}
		}
	}
	for i := range d {
		switch i % 4 {
		case 0:
			onA = append(onA, fmt.Appendf(nil, "new-%d-a-%07d", round, i))
		case 1:
			onC = append(onC, fmt.Appendf(nil, "new-%d-c-%07d", round, i))
		case 2:
			onA = append(onA, existing())
		case 3:
			onC = append(onC, existing())
		}
	}
	writeSyncBench(tb, a, onA, rng)
	writeSyncBench(tb, c, onC, rng)
	if d > 0 && nodetest.Converged(a, c) {
		tb.Fatalf("d=%d differences written but the replicas look identical", d)
	}
}

// syncBenchChanged is how many distinct existing keys makeSyncBenchDiffs
// changes for d differences (i%4 == 2 on one side, i%4 == 3 on the other).
func syncBenchChanged(d int) int { return (d+1)/4 + d/4 }

// syncBenchPair is one key and its stored state's encoding.
type syncBenchPair struct{ key, value []byte }

// storedPairs returns every key of nd's default namespace with the
// encoding of its stored state: the bytes a replica stores for it.
func storedPairs(tb testing.TB, nd *node.Node) []syncBenchPair {
	tb.Helper()
	pairs := make([]syncBenchPair, 0, syncBenchKeys)
	err := nd.StatesForTest(node.DefaultNamespace, func(key, state []byte) error {
		pairs = append(pairs, syncBenchPair{key: slices.Clone(key), value: state})
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return pairs
}

// rawBadgerOptions are the Badger options storage.Open uses on disk with
// fsync on, for the baselines.
func rawBadgerOptions(dir string) badger.Options {
	return badger.DefaultOptions(dir).WithSyncWrites(true).WithDetectConflicts(false).
		WithLogger(nil).WithMetricsEnabled(false)
}

// writeBatchRate writes pairs into a new on-disk Badger with one
// WriteBatch (fsync on) and returns the keys per second and the process
// CPU time, Flush included.
func writeBatchRate(tb testing.TB, pairs []syncBenchPair) (float64, time.Duration) {
	tb.Helper()
	bdb, err := badger.Open(rawBadgerOptions(tb.TempDir()))
	if err != nil {
		tb.Fatal(err)
	}
	defer bdb.Close()
	waitCPUQuiet(tb, true)
	cpu0, start := processCPU(tb), time.Now()
	wb := bdb.NewWriteBatch()
	for _, p := range pairs {
		if err := wb.Set(p.key, p.value); err != nil {
			tb.Fatal(err)
		}
	}
	if err := wb.Flush(); err != nil {
		tb.Fatal(err)
	}
	return float64(len(pairs)) / time.Since(start).Seconds(), processCPU(tb) - cpu0
}

// BenchmarkBootstrap copies 1,000,000 keys (100-byte values) from one peer
// to an empty one over real loopback TCP (two libp2p hosts, TCP + Noise +
// Yamux), the receiver on disk with fsync on (the node default), and
// reports keys/s beside raw Badger WriteBatch of the same keys and encoded
// states into a new on-disk Badger with fsync on, measured in the same
// iteration. The source is on disk too. Each iteration bootstraps a new
// receiver. Run with -args -syncbench.cpuprofile=PREFIX to profile the
// first measured round alone.
func BenchmarkBootstrap(b *testing.B) {
	src := nodetest.Start(b, syncBenchConfig(b, false, false))
	fillSyncBench(b, src, syncBenchKeys)
	pairs := storedPairs(b, src)
	if len(pairs) != syncBenchKeys {
		b.Fatalf("source holds %d keys", len(pairs))
	}
	b.Run(fmt.Sprintf("n=%d", syncBenchKeys), func(b *testing.B) {
		ctx := context.Background()
		var ours, raw []float64
		var cpus, rawCPUs []time.Duration
		var last gossip.NamespaceStats
		b.ResetTimer()
		for i := range b.N {
			b.StopTimer()
			rate, cpu := writeBatchRate(b, pairs)
			raw, rawCPUs = append(raw, rate), append(rawCPUs, cpu)
			fresh := nodetest.Start(b, syncBenchConfig(b, false, true))
			nodetest.Dial(b, fresh, src)
			waitCPUQuiet(b, true)
			stopProfile := func() {}
			if i == 0 {
				stopProfile = startCPUProfile(b)
			}
			b.StartTimer()
			cpu0, start := processCPU(b), time.Now()
			st, err := fresh.SyncWith(ctx, src.Peer().ID())
			elapsed := time.Since(start)
			cpus = append(cpus, processCPU(b)-cpu0)
			b.StopTimer()
			stopProfile()
			if err != nil {
				b.Fatal(err)
			}
			last = defaultNSStats(b, st)
			if got := defaultKeyCount(fresh); got != uint64(syncBenchKeys) || !nodetest.Converged(src, fresh) {
				b.Fatalf("bootstrap left %d keys, not identical replicas of %d", got, syncBenchKeys)
			}
			ours = append(ours, float64(syncBenchKeys)/elapsed.Seconds())
			if err := fresh.Close(); err != nil {
				b.Fatal(err)
			}
		}
		slices.Sort(ours)
		slices.Sort(raw)
		rate, rawRate := ours[len(ours)/2], raw[len(raw)/2]
		cpu, rawCPU := medianDuration(cpus), medianDuration(rawCPUs)
		b.ReportMetric(rate, "keys/s")
		b.ReportMetric(rawRate, "writebatch-keys/s")
		b.ReportMetric(rate/rawRate, "ratio")
		b.ReportMetric(float64(syncBenchKeys)/rate, "s/bootstrap")
		b.ReportMetric(cpu.Seconds(), "cpu-s/bootstrap")
		b.ReportMetric(rawCPU.Seconds(), "writebatch-cpu-s")
		b.ReportMetric(float64(last.BytesReceived), "B-recv")
		b.Logf("bootstrap of %d keys over loopback TCP: %.0f keys/s (%.1f s, %.1f s CPU of both peers, %d B received, %d round trips) vs raw Badger WriteBatch %.0f keys/s (%.1f s CPU): %.2f× (goal ≥ 0.3× and ≥ 80k keys/s: %s); medians of %d",
			syncBenchKeys, rate, float64(syncBenchKeys)/rate, cpu.Seconds(), last.BytesReceived, last.RoundTrips, rawRate, rawCPU.Seconds(), rate/rawRate,
			goalVerdict(rate >= 0.3*rawRate && rate >= 80_000), len(ours))
	})
}

// startCPUProfile profiles the process, if -syncbench.cpuprofile asks
// for it, until the returned function is called.
func startCPUProfile(tb testing.TB) func() {
	tb.Helper()
	if *syncBenchProfile == "" {
		return func() {}
	}
	name := strings.NewReplacer("/", "-", "=", "").Replace(tb.Name())
	f, err := os.Create(fmt.Sprintf("%s-%s.prof", *syncBenchProfile, name))
	if err != nil {
		tb.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		tb.Fatalf("%v (do not combine -syncbench.cpuprofile with -cpuprofile)", err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			tb.Error(err)
		}
	}
}

// BenchmarkRestart measures the restart of a peer holding 1,000,000 keys on
// disk: the time from New (Badger open, format check, range-sum tree
// rebuild from the hash index, libp2p host) until Get returns a key,
// beside raw badger.Open of the same directory and, as a breakdown,
// storage.Open alone, all in the same iteration. The files are in the OS
// page cache (just written), as after a process restart; a cold boot adds
// the disk reads.
func BenchmarkRestart(b *testing.B) {
	cfg := syncBenchConfig(b, false, true)
	nd := nodetest.Start(b, cfg)
	fillSyncBench(b, nd, syncBenchKeys)
	if err := nd.Close(); err != nil {
		b.Fatal(err)
	}
	dbDir := node.DatabaseDir(cfg.DataDir)
	key := syncBenchKey(syncBenchKeys / 2)
	b.Run(fmt.Sprintf("n=%d", syncBenchKeys), func(b *testing.B) {
		var ours, raw, store []time.Duration
		b.ResetTimer()
		for range b.N {
			b.StopTimer()
			waitCPUQuiet(b, true)
			start := time.Now()
			bdb, err := badger.Open(rawBadgerOptions(dbDir))
			raw = append(raw, time.Since(start))
			if err != nil {
				b.Fatal(err)
			}
			if err := bdb.Close(); err != nil {
				b.Fatal(err)
			}

			sopts := storage.DefaultConfig()
			sopts.Logger = cfg.Logger
			start = time.Now()
			db, err := storage.Open(dbDir, sopts)
			store = append(store, time.Since(start))
			if err != nil {
				b.Fatal(err)
			}
			if err := db.Close(); err != nil {
				b.Fatal(err)
			}

			waitCPUQuiet(b, true)
			b.StartTimer()
			start = time.Now()
			restarted, err := node.New(context.Background(), cfg)
			if err != nil {
				b.Fatal(err)
			}
			v, err := restarted.Get(context.Background(), "", key)
			elapsed := time.Since(start)
			b.StopTimer()
			if err != nil || len(v.Data) != syncBenchValueSize {
				b.Fatalf("Get after restart: %d bytes, %v", len(v.Data), err)
			}
			if got := defaultKeyCount(restarted); got != uint64(syncBenchKeys) {
				b.Fatalf("restarted peer holds %d keys, want %d", got, syncBenchKeys)
			}
			ours = append(ours, elapsed)
			if err := restarted.Close(); err != nil {
				b.Fatal(err)
			}
		}
		t, r, s := medianDuration(ours), medianDuration(raw), medianDuration(store)
		b.ReportMetric(t.Seconds(), "s-to-get")
		b.ReportMetric(r.Seconds(), "raw-open-s")
		b.ReportMetric(s.Seconds(), "storage-open-s")
		b.ReportMetric(t.Seconds()/r.Seconds(), "ratio")
		b.Logf("restart with %d keys: New→Get %v (storage.Open alone %v) vs raw badger.Open %v: %.1f× (goal ≤ 3 s: %s); medians of %d",
			syncBenchKeys, t.Round(time.Millisecond), s.Round(time.Millisecond), r.Round(time.Millisecond), t.Seconds()/r.Seconds(), goalVerdict(t <= 3*time.Second), len(ours))
	})
}

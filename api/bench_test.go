package api

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/grapevine-kv/grapevine/internal/loadgen"
	"github.com/grapevine-kv/grapevine/node/nodetest"
)

// BenchmarkHTTPPut measures durable puts/s (fsync on, on-disk Badger)
// through the HTTP API with 1 and 64 concurrent clients (loadgen, the
// harness of `grapevine bench`), and reports the ratio to raw Badger
// synced puts by as many clients, measured in the same run.
func BenchmarkHTTPPut(b *testing.B) {
	for _, clients := range []int{1, 64} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			cfg := nodetest.Config(b)
			cfg.Storage.InMemory, cfg.Storage.SyncWrites = false, true // durable puts: on-disk Badger, fsync on
			n := nodetest.Start(b, cfg)
			srv := httptest.NewServer(NewServer(n, cfg.MaxValueSize, cfg.Logger))
			defer srv.Close()
			target, err := loadgen.NewHTTPTarget(loadgen.HTTPOptions{Endpoints: []string{srv.URL}, Conns: clients})
			if err != nil {
				b.Fatal(err)
			}
			defer target.Close()
			load := loadgen.DefaultConfig()
			load.Clients, load.Requests, load.Targets = clients, uint64(b.N), []loadgen.Target{target}
			b.ReportAllocs()
			b.ResetTimer()
			r, err := loadgen.Run(context.Background(), load)
			b.StopTimer()
			if err != nil || r.Errors > 0 {
				b.Fatalf("%v; %d puts failed, the first: %v", err, r.Errors, r.FirstError)
			}
			base := load
			base.Requests = min(uint64(b.N), 500)
			baseline, err := loadgen.Baseline(context.Background(), b.TempDir(), base, 1)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(r.Throughput(), "puts/s")
			b.ReportMetric(float64(r.PutLatency.Quantile(0.5).Microseconds()), "p50-µs")
			b.ReportMetric(baseline.SyncPuts.Throughput(), "raw-badger-sync-puts/s")
			b.ReportMetric(r.Throughput()/baseline.SyncPuts.Throughput(), "ratio")
		})
	}
}

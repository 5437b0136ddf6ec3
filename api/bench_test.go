package api

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/api/client"
	"github.com/grapevine-kv/grapevine/node/nodetest"

	"github.com/dgraph-io/badger/v4"
)

// rawBadgerPutsPerSec measures the baseline: n single-key synced Update
// calls on raw Badger, one after another.
func rawBadgerPutsPerSec(b *testing.B, n int) float64 {
	db, err := badger.Open(badger.DefaultOptions(b.TempDir()).WithSyncWrites(true).WithLogger(nil))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	value := make([]byte, 100)
	start := time.Now()
	for i := range n {
		if err := db.Update(func(txn *badger.Txn) error {
			return txn.Set(fmt.Appendf(nil, "key-%d", i), value)
		}); err != nil {
			b.Fatal(err)
		}
	}
	return float64(n) / time.Since(start).Seconds()
}

// BenchmarkHTTPPut measures durable puts/s (fsync on, on-disk Badger)
// through the HTTP API with 1 and 64 concurrent clients, and reports the
// ratio to raw Badger synced single puts measured in the same run.
func BenchmarkHTTPPut(b *testing.B) {
	baseline := rawBadgerPutsPerSec(b, 500)
	for _, clients := range []int{1, 64} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			cfg := nodetest.Config(b)
			cfg.Storage.InMemory, cfg.Storage.SyncWrites = false, true // durable puts: on-disk Badger, fsync on
			n := nodetest.Start(b, cfg)
			srv := httptest.NewServer(NewServer(n, cfg.MaxValueSize, cfg.Logger))
			defer srv.Close()
			cl, _ := client.New([]string{srv.URL}, "")
			value := make([]byte, 100)
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for w := range clients {
				wg.Go(func() {
					for i := w; i < b.N; i += clients {
						if _, err := cl.Put(context.Background(), fmt.Sprintf("key-%d", i), value); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			rate := float64(b.N) / time.Since(start).Seconds()
			b.ReportMetric(rate, "puts/s")
			b.ReportMetric(baseline, "raw-badger-sync-puts/s")
			b.ReportMetric(rate/baseline, "ratio")
		})
	}
}

package storage

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/grapevine-kv/grapevine/crdt"
)

// benchRates records deltas/s per sub-benchmark (its last, longest run),
// so BenchmarkApply can print ratios measured in the same run.
var benchRates struct {
	sync.Mutex
	m map[string]float64
}

func recordRate(b *testing.B, name string, deltas int) {
	rate := float64(deltas) / b.Elapsed().Seconds()
	b.ReportMetric(rate, "deltas/s")
	benchRates.Lock()
	defer benchRates.Unlock()
	if benchRates.m == nil {
		benchRates.m = map[string]float64{}
	}
	benchRates.m[name] = rate
}

const benchValueSize = 100

func benchRegister(i int) crdt.Register {
	v := make([]byte, benchValueSize)
	copy(v, fmt.Sprintf("value-%d", i))
	return crdt.Register{Time: crdt.Timestamp(i + 1), Origin: "bench-replica", Value: v}
}

func benchOptions(b *testing.B, sync bool) Config {
	o := testOptions(b)
	o.SyncWrites = sync
	// Stores outlive the sub-benchmark round that opened them: log to stderr.
	o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return o
}

// benchPrefill is how many keys each store holds before timing starts, so
// every variant writes into a store of similar size whatever its b.N.
const benchPrefill = 100_000

// BenchmarkApply measures raw Badger single-key Update (the baseline) and
// Apply with batches of 1, 64 and 1024 fresh keys, with and without fsync,
// and Apply without the hash index (the state alone), then prints the
// ratios. Each variant has its own store, prefilled with benchPrefill keys
// and kept across the b.N rounds:
//
//	go test -run '^$' -bench BenchmarkApply -benchtime 2s ./storage/
func BenchmarkApply(b *testing.B) {
	modes := []struct {
		name string
		sync bool
	}{{"sync", true}, {"nosync", false}}
	// Stores outlive each sub-benchmark's rounds (and their TempDirs).
	parent := b.TempDir()
	dirs := 0
	newDir := func() string {
		dirs++
		return filepath.Join(parent, strconv.Itoa(dirs))
	}
	for _, m := range modes {
		name := "raw-badger/" + m.name
		raw := rawBench{dir: newDir()}
		b.Run(name, func(b *testing.B) { raw.run(b, name, m.sync) })
		raw.close()
	}
	for _, m := range modes {
		for _, n := range []int{1, 64, 1024} {
			for _, noIndex := range []bool{false, true} {
				name := fmt.Sprintf("apply/%s/batch=%d", m.name, n)
				if noIndex {
					name = fmt.Sprintf("apply-noindex/%s/batch=%d", m.name, n)
				}
				ab := applyBench{dir: newDir()}
				b.Run(name, func(b *testing.B) { ab.run(b, name, m.sync, n, noIndex) })
				ab.close()
			}
		}
	}
	printBenchSummary()
}

// rawBench is one raw-Badger variant's store, kept across b.N rounds.
type rawBench struct {
	dir  string
	bdb  *badger.DB
	next int
}

func (r *rawBench) run(b *testing.B, name string, sync bool) {
	if r.bdb == nil {
		var err error
		if r.bdb, err = badger.Open(badgerOptions(r.dir, benchOptions(b, sync))); err != nil {
			b.Fatal(err)
		}
		wb := r.bdb.NewWriteBatch()
		for ; r.next < benchPrefill; r.next++ {
			if err := wb.Set(dataKey("bench", crdt.TypeRegister, benchKey(r.next)), crdt.Encode(benchRegister(r.next))); err != nil {
				b.Fatal(err)
			}
		}
		if err := wb.Flush(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// The same key and value bytes Apply writes for this delta.
		key := dataKey("bench", crdt.TypeRegister, benchKey(r.next))
		val := crdt.Encode(benchRegister(r.next))
		r.next++
		if err := r.bdb.Update(func(txn *badger.Txn) error { return txn.Set(key, val) }); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	recordRate(b, name, b.N)
}

func (r *rawBench) close() {
	if r.bdb != nil {
		_ = r.bdb.Close()
	}
}

// applyBench is one Apply variant's store, kept across b.N rounds.
type applyBench struct {
	dir  string
	db   *DB
	next int
}

func (a *applyBench) batch(ops []Op) []Op {
	for j := range ops {
		ops[j] = Op{Namespace: "bench", Key: benchKey(a.next), State: benchRegister(a.next)}
		a.next++
	}
	return ops
}

func (a *applyBench) run(b *testing.B, name string, sync bool, n int, noIndex bool) {
	if a.db == nil {
		opts := benchOptions(b, false) // prefill without fsync, then switch
		var err error
		if a.db, err = Open(a.dir, opts); err != nil {
			b.Fatal(err)
		}
		a.db.skipIndex = noIndex
		ops := make([]Op, 1024)
		for a.next < benchPrefill {
			if _, err := a.db.Apply(a.batch(ops)); err != nil {
				b.Fatal(err)
			}
		}
		if sync {
			// Reopen with fsync on: same directory, same contents.
			if err := a.db.Close(); err != nil {
				b.Fatal(err)
			}
			if a.db, err = Open(a.dir, benchOptions(b, true)); err != nil {
				b.Fatal(err)
			}
			a.db.skipIndex = noIndex
		}
	}
	ops := make([]Op, n)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Building the ops is timed, as building key and value is for raw.
		res, err := a.db.Apply(a.batch(ops))
		if err != nil {
			b.Fatal(err)
		}
		if !res[n-1].Changed {
			b.Fatal("write did not change the state")
		}
	}
	b.StopTimer()
	recordRate(b, name, b.N*n)
}

func (a *applyBench) close() {
	if a.db != nil {
		_ = a.db.Close()
	}
}

func printBenchSummary() {
	benchRates.Lock()
	defer benchRates.Unlock()
	r := benchRates.m
	var sb strings.Builder
	line := func(label, num, den, goal string) {
		if r[num] == 0 || r[den] == 0 {
			return
		}
		fmt.Fprintf(&sb, "  %-58s %10.0f / %10.0f deltas/s = %6.2fx  %s\n", label, r[num], r[den], r[num]/r[den], goal)
	}
	line("no-sync Apply batch=1 vs raw Badger no-sync", "apply/nosync/batch=1", "raw-badger/nosync", "(goal >= 0.5x)")
	line("sync Apply batch=1 vs raw Badger sync", "apply/sync/batch=1", "raw-badger/sync", "")
	for _, n := range []int{64, 1024} {
		line(fmt.Sprintf("sync Apply batch=%d vs raw Badger sync (group commit)", n),
			fmt.Sprintf("apply/sync/batch=%d", n), "raw-badger/sync", "(goal: many times)")
		line(fmt.Sprintf("no-sync Apply batch=%d vs raw Badger no-sync", n),
			fmt.Sprintf("apply/nosync/batch=%d", n), "raw-badger/nosync", "")
	}
	for _, m := range []string{"sync", "nosync"} {
		for _, n := range []int{1, 64, 1024} {
			line(fmt.Sprintf("index upkeep: Apply %s batch=%d with / without index", m, n),
				fmt.Sprintf("apply/%s/batch=%d", m, n), fmt.Sprintf("apply-noindex/%s/batch=%d", m, n), "(goal >= 0.7x)")
		}
	}
	if sb.Len() > 0 {
		fmt.Fprintf(os.Stdout, "storage benchmark summary (same run):\n%s", sb.String())
	}
}

// benchKey is the i-th key: 16 bytes in an order unrelated to i, as user
// keys (ids, hashes, names) usually are to their write order.
func benchKey(i int) []byte {
	return []byte(fmt.Sprintf("key-%012x", uint64(i)*0x9E3779B97F4A7C15>>16))
}

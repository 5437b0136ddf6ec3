package loadgen

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// BaselineResult is what the storage underneath can do on the same disk:
// raw Badger with fsync, and a raw fdatasync.
type BaselineResult struct {
	// SyncPuts is raw Badger synced puts (SyncWrites, one key per
	// transaction) by as many goroutines as the run's clients.
	SyncPuts *Result
	// BatchKeys keys written in one Badger WriteBatch (then flushed)
	// took BatchElapsed.
	BatchKeys    uint64
	BatchElapsed time.Duration
	// Fdatasync holds the latency of appending 128 bytes to a file and
	// fdatasync-ing it (fsync where there is no fdatasync), one after
	// another.
	Fdatasync Histogram
}

// BatchRate is keys per second of the WriteBatch.
func (b *BaselineResult) BatchRate() float64 {
	if b.BatchElapsed <= 0 {
		return 0
	}
	return float64(b.BatchKeys) / b.BatchElapsed.Seconds()
}

// fdatasyncCount is how many 128-byte appends the fdatasync baseline times
// (at most; it stops at the run's duration).
const fdatasyncCount = 2000

// Baseline measures, in a fresh directory under dir (removed after), raw
// Badger synced puts with cfg's clients, value size and duration (its
// Targets are ignored), then a WriteBatch of batchKeys keys of that value
// size (pass the number of puts of the run it is compared with), then the
// fdatasync of 128-byte appends. Put dir on the disk the peer uses.
func Baseline(ctx context.Context, dir string, cfg Config, batchKeys uint64) (*BaselineResult, error) {
	tmp, err := os.MkdirTemp(dir, "grapevine-baseline-")
	if err != nil {
		return nil, fmt.Errorf("loadgen: baseline: %w", err)
	}
	defer os.RemoveAll(tmp)
	out := &BaselineResult{BatchKeys: batchKeys}

	db, err := openBadger(filepath.Join(tmp, "sync"))
	if err != nil {
		return nil, err
	}
	cfg.Op, cfg.OnPut, cfg.Targets = Put, nil, []Target{badgerTarget{db}}
	out.SyncPuts, err = Run(ctx, cfg)
	if cerr := db.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("loadgen: baseline: close badger: %w", cerr)
	}
	if err != nil {
		return nil, err
	}

	if out.BatchElapsed, err = writeBatch(filepath.Join(tmp, "batch"), batchKeys, cfg.ValueSize); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(cfg.Duration)
	if err := fdatasync(filepath.Join(tmp, "append"), deadline, &out.Fdatasync); err != nil {
		return nil, err
	}
	return out, nil
}

func openBadger(dir string) (*badger.DB, error) {
	db, err := badger.Open(badger.DefaultOptions(dir).WithSyncWrites(true).WithLogger(nil))
	if err != nil {
		return nil, fmt.Errorf("loadgen: baseline: open badger in %s: %w", dir, err)
	}
	return db, nil
}

// badgerTarget puts each key in a synced transaction of its own.
type badgerTarget struct{ db *badger.DB }

func (t badgerTarget) Put(_ context.Context, key, value []byte) error {
	return t.db.Update(func(txn *badger.Txn) error { return txn.Set(key, value) })
}

func (t badgerTarget) Get(_ context.Context, key []byte) (bool, error) {
	err := t.db.View(func(txn *badger.Txn) error {
		_, err := txn.Get(key)
		return err
	})
	if err == badger.ErrKeyNotFound {
		return false, nil
	}
	return err == nil, err
}

// writeBatch writes keys 0..n-1 in one WriteBatch and flushes it, and
// returns the time taken.
func writeBatch(dir string, n uint64, valueSize int) (time.Duration, error) {
	db, err := openBadger(dir)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	value := make([]byte, valueSize)
	start := time.Now()
	wb := db.NewWriteBatch()
	defer wb.Cancel()
	for i := range n {
		if err := wb.Set(Key(i), value); err != nil {
			return 0, fmt.Errorf("loadgen: baseline: write batch: %w", err)
		}
	}
	if err := wb.Flush(); err != nil {
		return 0, fmt.Errorf("loadgen: baseline: write batch: %w", err)
	}
	return time.Since(start), nil
}

// fdatasync appends 128 bytes to a new file and fdatasyncs it, up to
// fdatasyncCount times or until deadline, recording each latency in h.
func fdatasync(path string, deadline time.Time, h *Histogram) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("loadgen: baseline: %w", err)
	}
	defer f.Close()
	rec := make([]byte, 128)
	for i := 0; i < fdatasyncCount && (i < 10 || time.Now().Before(deadline)); i++ {
		t0 := time.Now()
		if _, err := f.Write(rec); err != nil {
			return fmt.Errorf("loadgen: baseline: append: %w", err)
		}
		if err := datasync(f); err != nil {
			return fmt.Errorf("loadgen: baseline: fdatasync %s: %w", path, err)
		}
		h.Record(time.Since(t0))
	}
	return nil
}

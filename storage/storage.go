package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"

	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/internal/rangetree"
)

// Sentinel errors, matched with errors.Is. Badger's errors are translated
// into these or wrapped with a "storage:" message.
var (
	ErrNotFound         = errors.New("storage: not found")
	ErrClosed           = errors.New("storage: closed")
	ErrInvalidNamespace = errors.New("storage: invalid namespace")
	ErrInvalidKey       = errors.New("storage: invalid key")
	ErrCorrupt          = errors.New("storage: corrupt data")
	// ErrInvalidArgument reports a malformed request: an Op with neither or
	// both of State and Incr, an unknown state type, an over-long replica
	// ID, a negative List limit.
	ErrInvalidArgument = errors.New("storage: invalid argument")
	// ErrTooLarge reports a state whose encoding Badger cannot store in one
	// transaction (in-memory mode: more than 1 MiB).
	ErrTooLarge = errors.New("storage: state too large")
	// ErrEncryptionKeyMismatch reports that Config.EncryptionKey (or its
	// absence) is not the key the directory was written with; Badger's
	// ErrEncryptionKeyMismatch is translated into it. Open returns it
	// before Badger opens anything, so the directory is left untouched.
	ErrEncryptionKeyMismatch = errors.New("storage: the encryption key does not match the one this data directory was written with")
)

// Config configures a DB. Start from DefaultConfig: the zero value turns
// fsync off and has no tombstone grace, which Validate refuses.
type Config struct {
	// InMemory keeps everything in memory (for tests); Open's dir must then
	// be "". Default false.
	InMemory bool
	// SyncWrites fsyncs every commit, so an acknowledged Apply survives
	// power loss. Default true: measured, without fsync a simulated power
	// loss left Badger unable to reopen its directory.
	//
	// It is Badger's own SyncWrites, which syncs a commit's value-log
	// writes before it writes the log entries pointing at them. Turning
	// Badger's off and syncing after commits instead (one sync for several
	// batches, the writer planning its next batch meanwhile) was tried and
	// measured: no faster under 64 HTTP clients (22.6k against 23.5k
	// puts/s), and TestCrashRecovery found the flaw — a power loss could
	// keep a log entry whose value (a value-log value, 1 MiB and up) was
	// lost.
	SyncWrites bool
	// TombstoneGrace is how long a tombstone is kept; older ones are purged.
	// A peer away longer than this rejoins pull-first (see package gossip),
	// so it should exceed the usual absence of a peer. Default 7 days: a
	// peer may be down over a long weekend and more.
	TombstoneGrace time.Duration
	// PurgeInterval is how often PurgeTombstones runs in the background;
	// 0 disables the scheduled purge. At most TombstoneGrace/4, so that a
	// tombstone is gone within 1.25× the grace; set it with the grace to
	// PurgeIntervalFor(grace). Default PurgeIntervalFor(7 days) = 1h:
	// purging is a scan of the time index, cheap, and a tombstone outliving
	// its grace by an hour costs nothing.
	PurgeInterval time.Duration
	// ChangeLogEntries is how many change-log entries (see Changes) are
	// kept; the purge loop trims older ones, so a reader that fell further
	// behind gets ErrCompacted and must re-read the states. At least 1.
	// Default DefaultChangeLogEntries (1,000,000: a watcher may be away
	// for a million changes; an entry holds its index, namespace, type
	// and key).
	ChangeLogEntries int
	// ValueLogGCInterval is how often Badger's value-log GC runs; 0
	// disables it (it never runs in memory). Default 10m, Badger's advice
	// for a steady write load.
	ValueLogGCInterval time.Duration
	// Now is the wall clock used for the purge horizon. Default time.Now.
	Now func() time.Time
	// Logger receives the store's logs and Badger's own warnings and errors
	// (Badger's info and debug output is dropped). Default slog.Default().
	Logger *slog.Logger

	// FirstChangeIndex is where a new store's change index starts: its
	// first change gets FirstChangeIndex+1, and a reader asking for the
	// changes since an index below it gets ErrCompacted. A store replacing
	// a lost one (a quarantined directory) sets it above every index the
	// lost store can have handed out, so a watcher resuming from one of
	// them learns that it must re-read the states instead of silently
	// missing changes (see node's quarantine). Ignored by a store that
	// already has a change log. Default 0.
	FirstChangeIndex uint64

	// EncryptionKey turns on Badger's encryption at rest: 16, 24 or 32
	// bytes select AES-128, -192 or -256 (in CTR mode). It is the master
	// key: it encrypts Badger's data keys (in the KEYREGISTRY file), which
	// encrypt every table, value log and write-ahead log. A directory must
	// always be opened with the key it was created with (none included):
	// otherwise Open fails with ErrEncryptionKeyMismatch and changes
	// nothing. ChangeEncryptionKey replaces the key of a closed directory.
	// With a key, Badger also gets a table-index cache of
	// EncryptionIndexCacheSize (encrypted indices are decrypted on use and
	// cached). Refused with InMemory: nothing reaches the disk, so a key
	// would protect nothing. The store does not modify the slice, and never
	// logs it. Default nil: no encryption.
	EncryptionKey []byte
	// EncryptionKeyRotation is how often Badger replaces the data key new
	// files are encrypted with (older files keep theirs, all held in the
	// key registry); unused without EncryptionKey. Default 10 days,
	// Badger's: a data key then encrypts at most ten days of writes.
	EncryptionKeyRotation time.Duration
}

// DefaultConfig returns the production defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		SyncWrites:         true,
		TombstoneGrace:     DefaultTombstoneGrace,
		PurgeInterval:      PurgeIntervalFor(DefaultTombstoneGrace),
		ChangeLogEntries:   DefaultChangeLogEntries,
		ValueLogGCInterval: 10 * time.Minute,
		Now:                time.Now,
		Logger:             slog.Default(),

		EncryptionKeyRotation: DefaultEncryptionKeyRotation,
	}
}

// DefaultEncryptionKeyRotation is Config.EncryptionKeyRotation's default,
// Badger's own.
const DefaultEncryptionKeyRotation = 10 * 24 * time.Hour

// EncryptionIndexCacheSize is the table-index cache Badger gets with an
// EncryptionKey (Badger requires one: encrypted indices cannot stay
// decrypted in memory). 64 MiB: an index is about 5% of its table, so the
// indices of some 1.3 GB of tables stay cached; beyond that a lookup may
// read and decrypt an index again. Without a key Badger keeps every index
// in memory, uncached, as before.
const EncryptionIndexCacheSize = 64 << 20

// EncryptionBlockCacheSize is the cache of decrypted blocks Badger gets
// with an EncryptionKey (an encrypted block cannot be read in place).
const EncryptionBlockCacheSize = 32 << 20

// MemTableSize and MaxMemTables bound Badger's memtables on disk: writes
// go to a 16 MiB memtable, and at most 3 (the one written and those being
// flushed to tables) are held, 48 MiB in all. Badger's defaults (64 MiB,
// 5) are sized for large machines; a memtable's size also bounds one
// commit to 15% of it (2.4 MiB of LSM entries: values above 1 MiB go to
// the value log and count as a pointer), far above a transaction's
// limit.
const (
	MemTableSize = 16 << 20
	MaxMemTables = 3
)

// DefaultTombstoneGrace is Config.TombstoneGrace's default.
const DefaultTombstoneGrace = 7 * 24 * time.Hour

// PurgeIntervalFor returns the purge interval that goes with a tombstone
// grace: grace/8, at most 1 h and at least 10 ms. A tombstone is then gone
// within 1.125× the grace (1.25× with the clamp), and the default grace of
// 7 days purges hourly.
func PurgeIntervalFor(grace time.Duration) time.Duration {
	return min(max(grace/8, 10*time.Millisecond), time.Hour)
}

// Validate reports every problem with c, or nil.
func (c Config) Validate() error {
	var errs []error
	if c.TombstoneGrace <= 0 {
		errs = append(errs, fmt.Errorf("TombstoneGrace %s must be positive", c.TombstoneGrace))
	}
	if c.PurgeInterval < 0 {
		errs = append(errs, fmt.Errorf("PurgeInterval %s is negative (0 disables the purge)", c.PurgeInterval))
	}
	if c.TombstoneGrace > 0 && c.PurgeInterval > c.TombstoneGrace/4 {
		errs = append(errs, fmt.Errorf("PurgeInterval %s exceeds a quarter of TombstoneGrace %s, so a tombstone could outlive 1.25× the grace; set it to storage.PurgeIntervalFor(grace) = %s",
			c.PurgeInterval, c.TombstoneGrace, PurgeIntervalFor(c.TombstoneGrace)))
	}
	if c.ChangeLogEntries < 1 {
		errs = append(errs, fmt.Errorf("ChangeLogEntries %d must be at least 1", c.ChangeLogEntries))
	}
	if c.ValueLogGCInterval < 0 {
		errs = append(errs, fmt.Errorf("ValueLogGCInterval %s is negative (0 disables the GC)", c.ValueLogGCInterval))
	}
	if c.Now == nil {
		errs = append(errs, errors.New("the wall clock (Now) is nil; start from DefaultConfig"))
	}
	if c.Logger == nil {
		errs = append(errs, errors.New("the logger (Logger) is nil; start from DefaultConfig"))
	}
	switch len(c.EncryptionKey) {
	case 0, 16, 24, 32:
	default:
		errs = append(errs, fmt.Errorf("EncryptionKey has %d bytes; AES needs 16, 24 or 32", len(c.EncryptionKey)))
	}
	if len(c.EncryptionKey) > 0 && c.InMemory {
		errs = append(errs, errors.New("EncryptionKey is set with InMemory: an in-memory store writes nothing to encrypt"))
	}
	if c.EncryptionKeyRotation <= 0 {
		errs = append(errs, fmt.Errorf("EncryptionKeyRotation %s must be positive; start from DefaultConfig", c.EncryptionKeyRotation))
	}
	return invalidConfig(errs)
}

// invalidConfig wraps a list of problems as one error, nil if none.
func invalidConfig(errs []error) error {
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("storage: invalid config: %w", err)
	}
	return nil
}

// DB is an open store. All methods are safe for concurrent use. Writers
// (Apply, PurgeTombstones) are serialized internally; readers run
// concurrently with them and with each other, each on a consistent
// snapshot.
type DB struct {
	bdb    *badger.DB
	opts   Config
	log    *slog.Logger
	cancel context.CancelFunc
	wg     sync.WaitGroup

	closeOnce sync.Once
	closeErr  error

	// mu tracks the lifecycle: Close waits for in-flight calls to leave.
	mu struct {
		sync.Mutex
		closed   bool
		inflight int
	}
	idle sync.Cond // signalled (with mu) when inflight drops to 0

	// applyMu serializes writers, so no two write transactions overlap
	// (Badger's conflict detection is off).
	applyMu sync.Mutex
	// clock is the greatest register time Apply has seen (or, after a
	// restart, the persisted mark); written under applyMu.
	clock atomic.Uint64
	// clockSaved is the clock mark on disk (guarded by applyMu): clock
	// rounded up to clockStep.
	clockSaved crdt.Timestamp

	// seqNext is the last change index handed out (guarded by applyMu);
	// lastIndex the last one committed, logFloor the change-log floor
	// (see changelog.go).
	seqNext   uint64
	lastIndex atomic.Uint64
	logFloor  atomic.Uint64

	// trees holds one range-sum tree per non-empty namespace. A writer
	// updates them right after each successful commit, under the write
	// lock, so they reflect exactly the committed transactions (possibly
	// lagging the disk by the one being applied).
	trees struct {
		sync.RWMutex
		byNS map[string]*rangetree.Tree // about 1.1 MB each, freed when the namespace empties
		// types counts the items of each type in each namespace, kept
		// by the same deltas as the trees: GetTypes skips the read of a
		// type its namespace holds none of.
		types map[nsType]uint64
	}

	// commits counts committed write transactions (Commits).
	commits atomic.Uint64

	// skipIndex disables the hash index and trees (benchmarks only: it
	// measures the cost of index upkeep).
	skipIndex bool
}

// Open opens (creating if needed) the store in dir, or in memory with
// Config.InMemory. It validates opts, opens Badger, checks the on-disk
// format, rebuilds the in-memory range-sum trees by one scan of the hash
// index, and starts the purge and value-log GC goroutines, which Close
// stops. It blocks for the duration of that scan.
func Open(dir string, opts Config) (*DB, error) {
	errs := []error{opts.Validate()}
	switch {
	case opts.InMemory && dir != "":
		errs = append(errs, invalidConfig([]error{fmt.Errorf("in-memory mode takes no directory (got %q)", dir)}))
	case !opts.InMemory && dir == "":
		errs = append(errs, invalidConfig([]error{errors.New("no directory")}))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if !opts.InMemory {
		if err := checkEncryptionKey(dir, opts.EncryptionKey); err != nil {
			return nil, fmt.Errorf("storage: open %q: %w", dir, err)
		}
	}
	bo := badgerOptions(dir, opts)
	if !opts.InMemory {
		if err := checkManifest(dir, bo); err != nil {
			return nil, fmt.Errorf("storage: open %q: %w", dir, err)
		}
	}
	bdb, err := badger.Open(bo)
	if err != nil {
		return nil, fmt.Errorf("storage: open %q: %w", dir, classify(translate(err)))
	}
	// Badger creates a new value-log file at every open without fsyncing
	// the directory: after a power loss the file's entry could be gone
	// while the LSM tree points into it. Make the entries durable now.
	if !opts.InMemory {
		if err := SyncDir(dir); err != nil {
			_ = bdb.Close()
			return nil, fmt.Errorf("storage: open %q: %w", dir, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	db := &DB{bdb: bdb, opts: opts, log: opts.Logger, cancel: cancel}
	db.idle.L = &db.mu.Mutex
	db.trees.byNS = make(map[string]*rangetree.Tree)
	db.trees.types = make(map[nsType]uint64)
	if err := db.init(); err != nil {
		cancel()
		_ = bdb.Close()
		return nil, err
	}
	if opts.PurgeInterval > 0 {
		db.wg.Add(1)
		go db.every(ctx, opts.PurgeInterval, db.scheduledPurge)
	}
	if opts.ValueLogGCInterval > 0 && !opts.InMemory {
		db.wg.Add(1)
		go db.every(ctx, opts.ValueLogGCInterval, db.valueLogGC)
	}
	return db, nil
}

// badgerOptions are the Badger options Open uses.
func badgerOptions(dir string, opts Config) badger.Options {
	bo := badger.DefaultOptions(dir).
		WithInMemory(opts.InMemory).
		WithSyncWrites(opts.SyncWrites).
		WithDetectConflicts(false). // writers are serialized by applyMu
		WithLogger(badgerLogger{opts.Logger}).
		WithMetricsEnabled(false)
	if opts.InMemory {
		bo = bo.WithDir("").WithValueDir("")
	} else {
		bo = bo.WithMemTableSize(MemTableSize).WithNumMemtables(MaxMemTables)
	}
	// Tables are not compressed, so Badger reads a block in place from the
	// memory-mapped table: no block cache, no decompression and no
	// allocation per read. Measured under a put load on a peer holding 1M
	// keys, Snappy with Badger's 256 MiB block cache had the daemon
	// allocate 19 KiB per put for decompressed blocks (two fifths of all
	// its allocations) and reach 1 GiB RSS. Tables written compressed by
	// an earlier version stay readable (each table's compression is in
	// the MANIFEST) until compactions rewrite them.
	bo = bo.WithCompression(options.None).WithBlockCacheSize(0)
	if testMemTableSize > 0 {
		bo = bo.WithMemTableSize(testMemTableSize)
	}
	if len(opts.EncryptionKey) > 0 {
		bo = bo.WithEncryptionKey(opts.EncryptionKey).
			WithEncryptionKeyRotationDuration(opts.EncryptionKeyRotation).
			WithIndexCacheSize(EncryptionIndexCacheSize).
			WithBlockCacheSize(EncryptionBlockCacheSize)
	}
	return bo
}

// init checks or writes the format version, loads the clock mark and
// rebuilds the trees. A malformed record is ErrDamaged; an unsupported
// format version is not (a newer grapevine wrote the directory).
func (db *DB) init() error {
	err := db.bdb.Update(func(txn *badger.Txn) error {
		item, err := txn.Get(metaFormat)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return txn.Set(metaFormat, []byte{formatVersion})
		}
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			if len(v) != 1 || v[0] != formatVersion {
				return fmt.Errorf("%w: unsupported format version %x", ErrCorrupt, v)
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("storage: format check: %w", translate(err))
	}
	err = db.bdb.View(func(txn *badger.Txn) error {
		item, err := txn.Get(metaClock)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			if len(v) != 8 {
				return fmt.Errorf("%w: clock mark of %d bytes", ErrCorrupt, len(v))
			}
			db.clock.Store(binary.BigEndian.Uint64(v))
			db.clockSaved = crdt.Timestamp(db.clock.Load())
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("storage: load clock mark: %w", classify(translate(err)))
	}
	if err := db.loadChangeLog(); err != nil {
		return classify(err)
	}
	return classify(db.rebuildTrees())
}

// Close stops the background goroutines, waits for in-flight calls to
// return, and closes Badger. It is idempotent: later calls return the first
// call's result. Calls made after Close starts return ErrClosed. Do not call
// Close from inside an Items or States callback (it would wait for itself).
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		db.mu.Lock()
		db.mu.closed = true
		db.mu.Unlock()
		db.cancel()
		db.wg.Wait()
		db.mu.Lock()
		for db.mu.inflight > 0 {
			db.idle.Wait()
		}
		db.mu.Unlock()
		if err := db.bdb.Close(); err != nil {
			db.closeErr = fmt.Errorf("storage: close: %w", translate(err))
		}
	})
	return db.closeErr
}

// enter registers an in-flight call; it fails with ErrClosed once Close has
// begun. Every successful enter is paired with leave.
func (db *DB) enter() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.mu.closed {
		return ErrClosed
	}
	db.mu.inflight++
	return nil
}

// closing reports whether Close has begun (long jobs check it to stop early).
func (db *DB) closing() bool {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.mu.closed
}

func (db *DB) leave() {
	db.mu.Lock()
	db.mu.inflight--
	if db.mu.inflight == 0 {
		db.idle.Broadcast()
	}
	db.mu.Unlock()
}

// ClockMark returns the HLC high-water mark: the greatest register Time
// ever passed to Apply, 0 for a new store. It is persisted in Apply's
// transactions rounded up to a whole second (so most commits need not
// rewrite it); after a restart ClockMark returns that persisted value,
// which may exceed the true mark by up to 1 s of HLC time. Restore a
// crdt.Clock from it at start so the clock never goes back across a
// restart. It does not block.
func (db *DB) ClockMark() crdt.Timestamp { return crdt.Timestamp(db.clock.Load()) }

// every runs fn every interval until ctx is cancelled.
func (db *DB) every(ctx context.Context, interval time.Duration, fn func()) {
	defer db.wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

func (db *DB) scheduledPurge() {
	n, err := db.PurgeTombstones()
	switch {
	case errors.Is(err, ErrClosed):
	case err != nil:
		db.log.Error("storage: tombstone purge failed", "err", err)
	case n > 0:
		db.log.Info("storage: purged tombstones", "count", n)
	}
	db.scheduledTrim()
}

// valueLogGC rewrites value-log files that are at least half garbage, until
// Badger finds none.
func (db *DB) valueLogGC() {
	if db.enter() != nil {
		return
	}
	defer db.leave()
	for i := 0; i < 16; i++ {
		err := db.bdb.RunValueLogGC(0.5)
		switch {
		case err == nil:
			continue
		case errors.Is(err, badger.ErrNoRewrite), errors.Is(err, badger.ErrRejected):
		default:
			db.log.Warn("storage: value-log GC failed", "err", err)
		}
		return
	}
}

// translate maps Badger errors onto this package's sentinels.
func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, badger.ErrKeyNotFound):
		return ErrNotFound
	case errors.Is(err, badger.ErrDBClosed):
		return ErrClosed
	case errors.Is(err, badger.ErrTxnTooBig):
		return fmt.Errorf("%w: %w", ErrTooLarge, err)
	case errors.Is(err, badger.ErrEncryptionKeyMismatch):
		return ErrEncryptionKeyMismatch
	}
	return err
}

// badgerLogger routes Badger's warnings and errors to slog and drops its
// info and debug chatter.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any) {
	b.l.Error(strings.TrimSpace(fmt.Sprintf(f, a...)), "component", "badger")
}

func (b badgerLogger) Warningf(f string, a ...any) {
	b.l.Warn(strings.TrimSpace(fmt.Sprintf(f, a...)), "component", "badger")
}

func (badgerLogger) Infof(string, ...any)  {}
func (badgerLogger) Debugf(string, ...any) {}

// SyncDir fsyncs a directory, making its entries durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

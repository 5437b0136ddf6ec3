package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/grapevine-kv/grapevine/storage"
	"github.com/prometheus/client_golang/prometheus"
)

// Recovery describes a database found damaged at start and replaced by an
// empty one (Config.QuarantineDamaged).
type Recovery struct {
	// At is when the damaged directory was moved aside (Config.Wall).
	At time.Time `json:"at"`
	// Quarantine is where the damaged directory is now: kept, never
	// deleted, for a person to inspect or remove.
	Quarantine string `json:"quarantine"`
	// Damage is what storage.Open reported.
	Damage string `json:"damage"`
}

// QuarantineRoot returns the directory under which a node with the given
// data directory keeps damaged databases it moved aside, one per
// recovery: <data>/quarantine/<UTC time>.
func QuarantineRoot(dataDir string) string { return filepath.Join(dataDir, "quarantine") }

// openStore opens the database. If it is damaged (storage.ErrDamaged) and
// Config.QuarantineDamaged is set, it moves the directory aside under
// QuarantineRoot, logs that at Error, and opens a new, empty store there;
// the Recovery says so. Any other failure, or damage without
// QuarantineDamaged, is returned with nothing changed.
//
// The new store's change index starts at the recovery's wall-clock time in
// microseconds (storage.Config.FirstChangeIndex), so a watcher resuming
// from an index of the lost store gets ErrCompacted, never a silent gap:
// the lost store counted from 0 (or, if it replaced an earlier one, from
// that recovery's time), one index per change, so its indexes stay below
// unless it averaged more than a million changes a second since, or the
// clock went back across the recovery. Microseconds also keep indexes
// below 2^53 (exact in JSON numbers) until the year 2255.
func openStore(cfg Config, sc storage.Config) (*storage.DB, *Recovery, error) {
	if cfg.Storage.InMemory {
		db, err := storage.Open("", sc)
		return db, nil, err
	}
	dir := DatabaseDir(cfg.DataDir)
	db, err := storage.Open(dir, sc)
	if err == nil || !errors.Is(err, storage.ErrDamaged) || !cfg.QuarantineDamaged {
		return db, nil, err
	}
	damage := err
	now := cfg.Wall()
	dest, err := quarantine(dir, QuarantineRoot(cfg.DataDir), now)
	if err != nil {
		return nil, nil, fmt.Errorf("%w; moving it aside failed, nothing was changed: %w", damage, err)
	}
	cfg.Logger.Error("the database was damaged: moved it aside and started with an empty one, which this peer fills from its peers; writes only it had acknowledged and not yet replicated are lost",
		"damage", damage, "moved_to", dest)
	sc.FirstChangeIndex = max(sc.FirstChangeIndex, uint64(now.UnixMicro()))
	if db, err = storage.Open(dir, sc); err != nil {
		return nil, nil, fmt.Errorf("opening a new database after moving the damaged one to %s: %w", dest, err)
	}
	return db, &Recovery{At: now, Quarantine: dest, Damage: storage.DamageCause(damage)}, nil
}

// quarantine moves dir to a new directory under root named after t (UTC,
// with a suffix if a recovery in the same second took that name), makes
// the move durable, and returns the new path.
func quarantine(dir, root string, t time.Time) (string, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return "", err
	}
	base := filepath.Join(root, t.UTC().Format("20060102T150405Z"))
	dest := base
	for i := 2; ; i++ {
		if _, err := os.Lstat(dest); errors.Is(err, os.ErrNotExist) {
			break
		}
		dest = base + "-" + strconv.Itoa(i)
	}
	if err := os.Rename(dir, dest); err != nil {
		return "", err
	}
	if abs, err := filepath.Abs(dest); err == nil {
		dest = abs // for the log and status, whatever the daemon's working directory
	}
	return dest, errors.Join(storage.SyncDir(root), storage.SyncDir(filepath.Dir(dir)))
}

// newRecoveryMetric registers grapevine_damage_recoveries_total, set to 1
// if this process replaced a damaged database (r not nil).
func newRecoveryMetric(reg prometheus.Registerer, r *Recovery) {
	c := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "grapevine_damage_recoveries_total",
		Help: "Damaged databases this process moved aside at start and replaced by an empty one resynced from peers (--on-damage quarantine): 0 or 1.",
	})
	if r != nil {
		c.Inc()
	}
	reg.MustRegister(c)
}

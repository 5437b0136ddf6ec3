package node

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/grapevine-kv/grapevine/peer"
	"github.com/libp2p/go-libp2p/core/host"
)

// DefaultNamespace is the namespace of requests that name none.
const DefaultNamespace = "default"

// Config configures a Node. Start from DefaultConfig.
type Config struct {
	// DataDir holds the database (in db/), the identity key and known
	// peers. Required unless InMemory.
	DataDir string
	// InMemory keeps the database in memory (tests). Default false.
	InMemory bool
	// Network names the grapevine network: peers of different networks
	// ignore each other. Default "default".
	Network string
	// Peer configures the libp2p host (listen addresses, bootstrap list,
	// mDNS, ...). Its DataDir, Network and Logger are filled in from this
	// Config.
	Peer peer.Config
	// Host, if set, is used instead of building a libp2p host from Peer
	// (tests on mocknet). The node does not close it.
	Host host.Host
	// Sync fsyncs every commit, so an acknowledged write survives power
	// loss. Default true.
	Sync bool
	// MaxValueSize bounds a value in bytes. Default 1 MiB.
	MaxValueSize int
	// MaxDrift is how far ahead of the local clock a remote stamp may be.
	// Default 1 minute.
	MaxDrift time.Duration
	// TombstoneGrace is how long a delete is remembered; writes older than
	// that are refused so a deleted key cannot come back. Default 7 days.
	TombstoneGrace time.Duration
	// SyncInterval is the time between anti-entropy rounds with a random
	// peer (jittered ±20%); a round also runs when a peer connects.
	// Default 5 s.
	SyncInterval time.Duration
	// ManualSync turns off the periodic and on-connect rounds: anti-entropy
	// then runs only when asked (Sync, SyncWith), and still answers peers.
	// For tests and tools. Default false.
	ManualSync bool
	// MaxBatchOps and MaxBatchBytes bound one apply round (group commit).
	// Defaults 4096 ops and 8 MiB.
	MaxBatchOps   int
	MaxBatchBytes int
	// Wall is the wall clock. Default time.Now.
	Wall func() time.Time
	// Logger receives the node's logs. Default slog.Default().
	Logger *slog.Logger
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		Network:        "default",
		Peer:           peer.DefaultConfig(),
		Sync:           true,
		MaxValueSize:   1 << 20,
		MaxDrift:       time.Minute,
		TombstoneGrace: 7 * 24 * time.Hour,
		SyncInterval:   5 * time.Second,
		MaxBatchOps:    4096,
		MaxBatchBytes:  8 << 20,
		Wall:           time.Now,
		Logger:         slog.Default(),
	}
}

// Validate reports the first problem with c, in words a person can act on.
func (c Config) Validate() error {
	var errs []error
	if c.DataDir == "" && !c.InMemory {
		errs = append(errs, errors.New("a data directory is required"))
	}
	if c.Network == "" {
		errs = append(errs, errors.New("network name must not be empty"))
	}
	if c.MaxValueSize <= 0 {
		errs = append(errs, fmt.Errorf("max value size must be positive, got %d", c.MaxValueSize))
	}
	if c.MaxDrift <= 0 {
		errs = append(errs, fmt.Errorf("max drift must be positive, got %s", c.MaxDrift))
	}
	if c.TombstoneGrace <= 0 {
		errs = append(errs, fmt.Errorf("tombstone grace must be positive, got %s", c.TombstoneGrace))
	}
	if c.SyncInterval <= 0 {
		errs = append(errs, fmt.Errorf("sync interval must be positive, got %s", c.SyncInterval))
	}
	if c.MaxBatchOps <= 0 || c.MaxBatchBytes <= 0 {
		errs = append(errs, errors.New("batch bounds must be positive"))
	}
	if c.Wall == nil || c.Logger == nil {
		errs = append(errs, errors.New("wall clock and logger are required (start from DefaultConfig)"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("node: invalid config: %w", err)
	}
	return nil
}

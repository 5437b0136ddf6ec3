package node

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/grapevine-kv/grapevine/gossip"
	"github.com/grapevine-kv/grapevine/internal/wire"
	"github.com/grapevine-kv/grapevine/peer"
	"github.com/grapevine-kv/grapevine/storage"
	"github.com/libp2p/go-libp2p/core/host"
	libp2ppeer "github.com/libp2p/go-libp2p/core/peer"
)

// DefaultNamespace is the namespace of requests that name none.
const DefaultNamespace = "default"

// Config configures a Node. Start from DefaultConfig.
//
// It composes the configurations of the layers below (Storage, Peer, ...),
// each with that package's defaults. A few of their fields are the node's
// to set — the data directory, the network name, the wall clock, the logger
// and the callbacks that tie the layers together: set those here, on Config
// itself. DefaultConfig leaves them zero in the sub-configs, New fills them
// in, and Validate refuses a sub-config that sets one to something else,
// so nothing the caller set is silently overwritten.
type Config struct {
	// DataDir holds the database (in db/), the identity key and known
	// peers. Required, even with Storage.InMemory (for the identity).
	DataDir string
	// Network names the grapevine network: peers of different networks
	// ignore each other. Default peer.DefaultNetwork ("default").
	Network string
	// Host, if set, is used instead of building a libp2p host from Peer
	// (tests on mocknet). The node does not close it. Default nil.
	Host host.Host
	// MaxValueSize bounds a value in bytes, at most wire.MaxValueSizeLimit
	// (32 MiB). A value up to 1 MiB travels in one gossip message; a larger
	// one is not gossiped but sent by anti-entropy, in rounds the writer
	// starts at once with each sync partner (each state travels whole in
	// one sync frame, and a peer reads frames as large as its own
	// MaxValueSize needs). Every peer of a network should have the same
	// limit: a state larger than a peer's limit is not sent to it (logged
	// at warn once per key). Default 1 MiB: large enough for documents and
	// small blobs, small enough to travel in one gossip message.
	MaxValueSize int
	// MaxDrift is how far ahead of the local clock a remote stamp may be.
	// Default 1 minute: NTP keeps honest clocks far closer, and a peer
	// further ahead would win every write for that long.
	MaxDrift time.Duration
	// ManualSync turns off the periodic and on-connect rounds: anti-entropy
	// then runs only when asked (Sync, SyncWith), and still answers peers.
	// For tests and tools. Default false.
	ManualSync bool
	// MaxBatchOps and MaxBatchBytes bound one apply round (group commit).
	// Defaults 4096 ops and 8 MiB: enough to share one fsync among
	// thousands of writers, small enough to keep a round's latency low.
	MaxBatchOps   int
	MaxBatchBytes int
	// Wall is the wall clock of the HLC and of the purge horizon. Default
	// time.Now.
	Wall func() time.Time
	// Logger receives the node's logs and those of every layer. Default
	// slog.Default().
	Logger *slog.Logger
	// Writers gives namespaces a writer list: namespace → the peers allowed
	// to write it. In such a namespace every state is signed by its
	// origin's identity key and verified by every receiver; a state that
	// is unsigned, forged or from a peer not on the list is refused and
	// counted (grapevine_refused_states_total), and a local write by a peer
	// not on the list fails with ErrForbidden. Lists must be non-empty and
	// the IDs Ed25519 peer IDs (which embed their public key). Every peer
	// of a network should be given the same lists. Default nil: every
	// namespace is open, with no signing and no verification.
	Writers map[string][]libp2ppeer.ID
	// Namespaces are the patterns (path.Match globs: "tenant-*", "a") of
	// the namespaces this peer replicates (partial replication, see
	// partial.go): it subscribes only to their topics, syncs only them,
	// advertises them in the DHT and never stores another namespace; a
	// request for another is forwarded to a peer that holds it. Default
	// ["*"]: every namespace, as before partial replication.
	Namespaces []string
	// QuarantineDamaged makes New recover from a damaged database
	// (storage.ErrDamaged: a table file lost in a power loss on a
	// filesystem that does not keep new names without a directory fsync,
	// a checksum mismatch): it moves the database directory aside under
	// QuarantineRoot (never deleting it), logs that at Error, and starts
	// with an empty database, which the peer fills from its peers like a
	// new one (its identity stays). Writes only this peer had acknowledged
	// and not yet replicated are lost. Status reports the recovery until
	// the node is closed. Default false: New fails with an error wrapping
	// storage.ErrDamaged and changes nothing, so a person decides.
	QuarantineDamaged bool

	// Storage configures the database: fsync (SyncWrites), in-memory mode,
	// tombstone grace, purge and GC schedules. Default
	// storage.DefaultConfig(). The node sets Now and Logger.
	Storage storage.Config
	// Peer configures the libp2p host: listen addresses, bootstrap list,
	// mDNS, connection limits, private-network key. Default
	// peer.DefaultConfig(). The node sets DataDir, Network and Logger.
	Peer peer.Config
	// Gossip configures push replication over GossipSub: batch and message
	// sizes. Default gossip.DefaultPushConfig(). The node sets Network,
	// CheckTime, Admit and Logger.
	Gossip gossip.PushConfig
	// AntiEntropy configures pull replication: the interval between rounds
	// with a random peer (Interval, default 5 s), served rounds, chunk size,
	// idle timeout, the pull-first wait. Default gossip.DefaultSyncConfig().
	// The node sets Network, MaxValueSize, CheckTime, OnRound, Logger, Now
	// (Wall) and TombstoneGrace (Storage.TombstoneGrace).
	AntiEntropy gossip.SyncConfig
}

// DefaultConfig returns the defaults documented on Config and its
// sub-configs. DataDir must still be set.
func DefaultConfig() Config {
	c := Config{
		Network:       peer.DefaultNetwork,
		MaxValueSize:  1 << 20,
		MaxDrift:      time.Minute,
		MaxBatchOps:   4096,
		MaxBatchBytes: 8 << 20,
		Wall:          time.Now,
		Logger:        slog.Default(),
		Namespaces:    []string{"*"},
		Storage:       storage.DefaultConfig(),
		Peer:          peer.DefaultConfig(),
		Gossip:        gossip.DefaultPushConfig(),
		AntiEntropy:   gossip.DefaultSyncConfig(),
	}
	// The fields the node owns are set in layers, not here.
	c.Storage.Now, c.Storage.Logger = nil, nil
	c.Peer.DataDir, c.Peer.Network, c.Peer.Logger = "", "", nil
	c.Gossip.Network, c.Gossip.Logger = "", nil
	c.AntiEntropy.Logger, c.AntiEntropy.MaxValueSize, c.AntiEntropy.TombstoneGrace, c.AntiEntropy.Now = nil, 0, 0, nil
	return c
}

// Validate reports every problem with c, its sub-configs included, in words
// a person can act on, or nil.
func (c Config) Validate() error {
	_, err := c.layers()
	return err
}

// layerConfigs are the sub-configs as the node passes them on.
type layerConfigs struct {
	storage storage.Config
	peer    peer.Config
	gossip  gossip.PushConfig
	sync    gossip.SyncConfig
}

// layers returns the sub-configs with the fields the node owns filled in,
// and every problem with c: its own fields, a sub-config field the node owns
// set to something else, and whatever the sub-configs' Validate report.
func (c Config) layers() (layerConfigs, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.DataDir == "" {
		bad("a data directory (DataDir) is required")
	}
	if c.MaxValueSize <= 0 || c.MaxValueSize > MaxValueSizeLimit {
		bad("max value size must be 1..%d bytes, got %d", MaxValueSizeLimit, c.MaxValueSize)
	}
	if c.MaxDrift <= 0 {
		bad("max drift must be positive, got %s", c.MaxDrift)
	}
	if c.MaxBatchOps <= 0 || c.MaxBatchBytes <= 0 {
		bad("batch bounds must be positive, got %d ops and %d bytes", c.MaxBatchOps, c.MaxBatchBytes)
	}
	if c.Wall == nil {
		bad("the wall clock (Wall) is nil; start from DefaultConfig")
	}
	if c.Logger == nil {
		bad("the logger (Logger) is nil; start from DefaultConfig")
	}
	if _, err := newWriterLists(c.Writers); err != nil {
		errs = append(errs, err)
	}
	if len(c.Namespaces) == 0 || len(c.Namespaces) > wire.MaxPatterns {
		bad("namespace patterns (Namespaces): want 1 to %d, got %d (\"*\" replicates every namespace)", wire.MaxPatterns, len(c.Namespaces))
	}
	for _, p := range c.Namespaces {
		if err := wire.ValidPattern(p); err != nil {
			errs = append(errs, err)
		}
	}

	// owned fills a field the node owns, or reports a conflicting value.
	owned := func(field string, set bool, same bool) {
		if set && !same {
			bad("%s is set by the node: set it on node.Config, or leave it zero", field)
		}
	}
	l := layerConfigs{storage: c.Storage, peer: c.Peer, gossip: c.Gossip, sync: c.AntiEntropy}
	owned("Storage.Logger", l.storage.Logger != nil, l.storage.Logger == c.Logger)
	owned("Storage.Now", l.storage.Now != nil, false)
	l.storage.Logger, l.storage.Now = c.Logger, c.Wall
	owned("Peer.DataDir", l.peer.DataDir != "", l.peer.DataDir == c.DataDir)
	owned("Peer.Network", l.peer.Network != "", l.peer.Network == c.Network)
	owned("Peer.Logger", l.peer.Logger != nil, l.peer.Logger == c.Logger)
	owned("Peer.Metrics", l.peer.Metrics != nil, false) // New: the node's registry
	l.peer.DataDir, l.peer.Network, l.peer.Logger = c.DataDir, c.Network, c.Logger
	owned("Gossip.Network", l.gossip.Network != "", l.gossip.Network == c.Network)
	owned("Gossip.Logger", l.gossip.Logger != nil, l.gossip.Logger == c.Logger)
	owned("Gossip.CheckTime", l.gossip.CheckTime != nil, false)
	owned("Gossip.Admit", l.gossip.Admit != nil, false)
	l.gossip.Network, l.gossip.Logger = c.Network, c.Logger // CheckTime, Admit: set by New
	owned("AntiEntropy.Network", l.sync.Network != "", l.sync.Network == c.Network)
	owned("AntiEntropy.Logger", l.sync.Logger != nil, l.sync.Logger == c.Logger)
	owned("AntiEntropy.CheckTime", l.sync.CheckTime != nil, false)
	owned("AntiEntropy.OnRound", l.sync.OnRound != nil, false)
	owned("AntiEntropy.MaxValueSize", l.sync.MaxValueSize != 0, l.sync.MaxValueSize == c.MaxValueSize)
	owned("AntiEntropy.TombstoneGrace", l.sync.TombstoneGrace != 0, l.sync.TombstoneGrace == c.Storage.TombstoneGrace)
	owned("AntiEntropy.Now", l.sync.Now != nil, false)
	owned("AntiEntropy.Namespaces", l.sync.Namespaces != nil, slices.Equal(l.sync.Namespaces, c.Namespaces))
	l.sync.Namespaces = c.Namespaces
	l.sync.Network, l.sync.Logger, l.sync.MaxValueSize = c.Network, c.Logger, c.MaxValueSize // CheckTime, OnRound: set by New
	l.sync.TombstoneGrace, l.sync.Now = c.Storage.TombstoneGrace, c.Wall

	if c.DataDir != "" && c.Wall != nil && c.Logger != nil {
		// Only then are the sub-configs' own checks about them, not about
		// a field of ours already reported above.
		errs = append(errs, l.storage.Validate(), l.gossip.Validate(), l.sync.Validate())
		if c.Host == nil {
			errs = append(errs, l.peer.Validate())
		} else {
			errs = append(errs, l.peer.ValidateWithHost())
		}
	}
	if err := errors.Join(errs...); err != nil {
		return l, fmt.Errorf("node: invalid config: %w", err)
	}
	return l, nil
}

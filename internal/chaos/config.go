package chaos

import (
	"errors"
	"fmt"
	"io"
	"time"
)

// Faults selects the kinds of fault a run injects.
type Faults struct {
	Partitions bool // isolate one peer, majority/minority split, one-way
	Kills      bool // kill -9 and restart after 1–5 s
	Pauses     bool // SIGSTOP, SIGCONT after 2–6 s
	Skew       bool // clock skew on one peer, some beyond the maximum drift
	BadInput   bool // rogue libp2p peer, invalid API requests
	Absence    bool // one peer killed for longer than the tombstone grace while its keys are deleted
	// PowerLoss puts every data directory behind a power-loss filesystem
	// (package powerfs, FUSE) and makes one kill in three, the first among
	// them, a power loss: kill -9, then everything not fsynced is dropped
	// before the restart.
	PowerLoss bool
}

// Config configures a run. Start from DefaultConfig (10-minute run) or
// ShortConfig (the short run of `make test`).
type Config struct {
	// Bin is the grapevine binary to run. Required.
	Bin string
	// Dir receives the data directories, the daemons' logs, history.jsonl
	// and summary.txt. Required; created if missing.
	Dir string
	// Peers is the number of daemons started at the beginning. Default 5.
	Peers int
	// Joiners is the number of new daemons started halfway through the
	// run, bootstrapping from the first Peers. Default 1.
	Joiners int
	// Duration is how long the workload and the faults run. Default 10m.
	Duration time.Duration
	// Seed seeds every random choice (workload, nemesis, rogue peer).
	Seed uint64
	// Network is the daemons' --network. Default "chaos".
	Network string
	// WorkersPerPeer is the number of client workers bound to each peer.
	// Default 2.
	WorkersPerPeer int
	// HotKeys and CounterKeys size the register and counter key sets.
	// Defaults 8 and 4: few keys, so writes collide.
	HotKeys, CounterKeys int
	// ThinkTime is the mean pause of a worker between operations. Default
	// 20ms.
	ThinkTime time.Duration
	// RequestTimeout bounds one HTTP request; a timeout is recorded as info.
	// Default 2s.
	RequestTimeout time.Duration
	// RoundMin and RoundMax bound the time between nemesis rounds. Each
	// round starts a partition and, usually, a kill or a pause (and
	// sometimes a clock skew), and heals them all after Hold. Defaults 10s
	// and 18s.
	RoundMin, RoundMax time.Duration
	// HoldMin and HoldMax bound how long a round's faults last. Defaults 4s
	// and 8s.
	HoldMin, HoldMax time.Duration
	// SkewProb is the chance that a round also skews a peer's clock.
	// Default 0.35.
	SkewProb float64
	// MaxSkew bounds clock skews (either way). Default 5m.
	MaxSkew time.Duration
	// MaxForwardJump bounds forward skews. It is at most half the
	// TombstoneGrace: a clock that jumps ahead by more than the grace
	// purges tombstones before it spread them, so a deleted key can come
	// back, and that is outside what grapevine promises. Skews beyond the
	// daemons' maximum drift happen forward only when it exceeds MaxDrift
	// (the skewed peer's writes are then refused by others until real time
	// catches up, which delays convergence by as much), and backward
	// whenever MaxSkew does. Default 0: TombstoneGrace/2.
	MaxForwardJump time.Duration
	// MaxDrift is the daemons' maximum clock drift (node.Config.MaxDrift).
	// Default 1m.
	MaxDrift time.Duration
	// Quiesce bounds the wait for convergence after the final heal (extended
	// when forward-skewed stamps are still too far ahead). Default 60s.
	Quiesce time.Duration
	// Faults selects the fault kinds. Default all.
	Faults Faults
	// Partition picks the partition mechanism: "auto" (nftables when it
	// works here, else the connection gater), "nft" or "gater". Default auto.
	Partition string
	// TombstoneGrace is the daemons' --tombstone-grace: short, so that a
	// peer held away (Faults.Absence) misses purged tombstones. Default 2m.
	TombstoneGrace time.Duration
	// PullFirstWait is the daemons' hidden --test-pull-first-wait: every
	// namespace starts with no up-to-date peer, and a peer takes over as
	// its reference only after this wait, so the 10-minute default would
	// hold back every state older than the grace for most of a run.
	// 0 leaves the daemons' default (10m). Default TombstoneGrace/2.
	PullFirstWait time.Duration
	// MaxValueSize is the daemons' --max-value-size; the workload puts
	// values up to it. Default 32 MiB (the hard limit).
	MaxValueSize int
	// BigValueProb is the chance that a register put carries a large value
	// (1 MiB to MaxValueSize). Default 0.001 (at 32 MiB, a few hundred
	// megabytes a run); 0.01 in the short run (4 MiB).
	BigValueProb float64
	// DaemonFlags are extra flags for every daemon (e.g. --sync=false, the
	// power-loss negative control). Default none.
	DaemonFlags []string
	// Log receives progress lines. Default io.Discard.
	Log io.Writer
}

// DefaultConfig returns the 10-minute run of `make chaos`.
func DefaultConfig() Config {
	return Config{
		Peers:          5,
		Joiners:        1,
		Duration:       10 * time.Minute,
		Seed:           1,
		Network:        "chaos",
		WorkersPerPeer: 2,
		HotKeys:        8,
		CounterKeys:    4,
		ThinkTime:      20 * time.Millisecond,
		RequestTimeout: 2 * time.Second,
		RoundMin:       10 * time.Second,
		RoundMax:       18 * time.Second,
		HoldMin:        4 * time.Second,
		HoldMax:        8 * time.Second,
		SkewProb:       0.35,
		MaxSkew:        5 * time.Minute,
		MaxDrift:       time.Minute,
		Quiesce:        60 * time.Second,
		Faults:         Faults{Partitions: true, Kills: true, Pauses: true, Skew: true, BadInput: true, Absence: true, PowerLoss: true},
		TombstoneGrace: 2 * time.Minute,
		PullFirstWait:  time.Minute,
		MaxValueSize:   32 << 20,
		BigValueProb:   0.001,
		Partition:      "auto",
		Log:            io.Discard,
	}
}

// ShortConfig returns the short run of `make test`: about 70 s of faults
// in quicker rounds, forward skews up to half the 15 s tombstone grace,
// and at most 30 s to converge.
func ShortConfig() Config {
	c := DefaultConfig()
	c.Duration = 70 * time.Second
	c.RoundMin, c.RoundMax = 6*time.Second, 9*time.Second
	c.HoldMin, c.HoldMax = 3*time.Second, 5*time.Second
	c.Quiesce = 30 * time.Second
	c.TombstoneGrace, c.PullFirstWait = 15*time.Second, 8*time.Second
	c.MaxValueSize, c.BigValueProb = 4<<20, 0.01
	return c
}

// Validate reports what is wrong with c.
func (c Config) Validate() error {
	var errs []error
	if c.Bin == "" {
		errs = append(errs, errors.New("the grapevine binary (Bin) is required"))
	}
	if c.Dir == "" {
		errs = append(errs, errors.New("a working directory (Dir) is required"))
	}
	if c.Peers < 2 || c.Peers > 200 {
		errs = append(errs, fmt.Errorf("peers must be 2 to 200, got %d", c.Peers))
	}
	if c.Joiners < 0 || c.Joiners > 50 {
		errs = append(errs, fmt.Errorf("joiners must be 0 to 50, got %d", c.Joiners))
	}
	if c.Duration <= 0 || c.WorkersPerPeer <= 0 || c.HotKeys <= 0 || c.CounterKeys <= 0 || c.RequestTimeout <= 0 {
		errs = append(errs, errors.New("duration, workers, key counts and request timeout must be positive"))
	}
	if c.RoundMin <= 0 || c.RoundMax < c.RoundMin || c.HoldMin <= 0 || c.HoldMax < c.HoldMin {
		errs = append(errs, errors.New("nemesis round and hold bounds must be positive, min ≤ max"))
	}
	if c.MaxDrift <= 0 || c.MaxSkew <= 0 || c.Quiesce <= 0 {
		errs = append(errs, errors.New("max drift, max skew and quiesce must be positive"))
	}
	if c.TombstoneGrace <= 0 || c.PullFirstWait < 0 || c.MaxValueSize < 2<<20 || c.BigValueProb < 0 || c.BigValueProb > 1 {
		errs = append(errs, errors.New("tombstone grace must be positive, pull-first wait not negative, max value size at least 2 MiB, big-value chance in [0, 1]"))
	}
	if c.MaxForwardJump < 0 || c.MaxForwardJump > c.TombstoneGrace/2 {
		errs = append(errs, fmt.Errorf("the largest forward clock skew (%s) must be between 0 (meaning half the tombstone grace) and half the tombstone grace (%s): a clock that jumps ahead by more than the grace purges tombstones before it spread them, which grapevine does not promise to survive", c.MaxForwardJump, c.TombstoneGrace/2))
	}
	switch c.Partition {
	case "auto", "nft", "gater":
	default:
		errs = append(errs, fmt.Errorf("partition mechanism must be auto, nft or gater, got %q", c.Partition))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("chaos: invalid config: %w", err)
	}
	return nil
}

// maxForward is the largest forward clock skew (see MaxForwardJump).
func (c Config) maxForward() time.Duration {
	if c.MaxForwardJump > 0 {
		return c.MaxForwardJump
	}
	return c.TombstoneGrace / 2
}

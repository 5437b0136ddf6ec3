package gossip

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/gossip/reconcile"
	"github.com/grapevine-kv/grapevine/internal/wire"
	"github.com/grapevine-kv/grapevine/storage"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	libp2ppeer "github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// SyncProtocol returns the libp2p protocol of anti-entropy in network
// ("/grapevine/<network>/sync/1", wire.SyncProtocol): peers of different
// networks never sync with each other.
func SyncProtocol(network string) protocol.ID { return protocol.ID(wire.SyncProtocol(network)) }

// Store is what anti-entropy needs of storage. storage.DB implements it.
type Store interface {
	// Namespaces lists the namespaces holding data. Must not block long.
	Namespaces() []string
	// Summarize returns count and fingerprint sum of a hash range; answered
	// from memory for ranges of the reconciliation tree.
	Summarize(ns string, lo, hi uint64) storage.Summary
	// Items walks the index of a hash range in ascending hash order.
	Items(ns string, lo, hi uint64, fn func(storage.Item) error) error
	// States walks a hash range with each state loaded.
	States(ns string, lo, hi uint64, fn func(storage.Item, crdt.State) error) error
	// Get returns one state, or storage.ErrNotFound.
	Get(ns string, typ crdt.Type, key []byte) (crdt.State, error)
	// SyncedMarks returns every namespace's saved synced mark (see the
	// package doc). Reads the disk; called once, by NewSyncer.
	SyncedMarks() (map[string]time.Time, error)
	// SetSyncedMark durably saves ns's synced mark. Blocks for a write.
	SetSyncedMark(ns string, t time.Time) error
	// DropStale removes the states of items whose fingerprint is still
	// the stored one, and returns how many. Blocks for a write.
	DropStale(ns string, items []storage.Item) (int, error)
}

var _ Store = (*storage.DB)(nil)

// Applier commits states received from peer from and returns how many
// changed local state, once they are durable. It must be safe for
// concurrent use.
type Applier func(ctx context.Context, from libp2ppeer.ID, namespace string, deltas []wire.Delta) (changed int, err error)

// SyncConfig configures a Syncer. Start from DefaultSyncConfig; NewSyncer
// validates it and fills in nothing.
type SyncConfig struct {
	// Network names the grapevine network: the sync protocol ID includes
	// it (SyncProtocol), so rounds run only with peers of this network.
	// Required; the node sets it. Default "" (must be set).
	Network string
	// Interval between rounds with a random peer; each wait is jittered
	// by ±20%. Default 5 s: a lost push is repaired within seconds, while
	// rounds between identical replicas (one round trip, a few hundred
	// bytes) stay negligible.
	Interval time.Duration
	// MaxIncoming bounds rounds served to peers at once; more are refused
	// (the peer retries later). Default 4: enough for a handful of peers
	// syncing at once, while a burst cannot monopolise storage.
	MaxIncoming int
	// ChunkBytes is the size of one chunk of states; at most
	// wire.MaxFrameSize - wire.MaxGossipMessage, so that a chunk and the
	// delta that overflows it fit a frame. Default 1 MiB: large enough
	// for stream speed, small enough that an interrupted bootstrap loses
	// little.
	ChunkBytes int
	// MaxValueSize is the largest value this peer accepts: it reads
	// states frames of up to wire.StatesFrameLimit(MaxValueSize), says so
	// in its hello, and refuses a larger one as a protocol violation. At
	// most wire.MaxValueSizeLimit. Default 1 MiB (the node sets its own
	// MaxValueSize).
	MaxValueSize int
	// IdleTimeout ends a round when no frame moves either way for this
	// long. Default 30 s: generous for a peer busy committing a chunk,
	// short enough to free a served slot held by a dead peer.
	IdleTimeout time.Duration
	// CheckTime refuses register stamps too far in the future; refused
	// states are skipped and counted. Default nil: all are accepted (the
	// node sets its clock's check).
	CheckTime func(crdt.Timestamp) error
	// ValidNamespace refuses a namespace name a peer lists. Required.
	// Default storage.ValidNamespace, the names storage accepts.
	ValidNamespace func(string) error
	// Seed seeds the jitter and the choice of peers. Default 0: derived
	// from the host's peer ID, so peers started together do not run in
	// lockstep; tests set it for reproducible choices.
	Seed uint64
	// OnRound, if set, is called after every round (both roles), from the
	// goroutine that ran it, never after Close has returned. Default nil.
	OnRound func(RoundStats)
	// Logger receives failed rounds at debug level, a state the peer cannot
	// receive (larger than its limit) at warn level once per key, and a
	// namespace entering and leaving pull-first at info level. Required.
	// Default
	// slog.Default().
	Logger *slog.Logger

	// TombstoneGrace is storage's tombstone grace: a namespace not synced
	// with an up-to-date peer for this long rejoins pull-first (see the
	// package doc). Required; the node sets it from its storage config.
	// Default storage.DefaultTombstoneGrace (7 days).
	TombstoneGrace time.Duration
	// PullFirstWait is how long a namespace pulls first without meeting an
	// up-to-date peer before the peer that synced it most recently takes
	// over as its reference (so a whole network restarted after a long
	// stop converges). Default 10 min: a returning peer normally meets an
	// up-to-date peer within seconds, and until the wait ends only states
	// older than the grace are held back.
	PullFirstWait time.Duration
	// Now is the wall clock of synced marks and of the horizon. Required;
	// the node sets its own. Default time.Now.
	Now func() time.Time
	// Namespaces are the patterns (wire.ValidPattern) of the namespaces
	// this peer replicates: its hello offers only those it holds and says
	// the patterns, and a round reconciles the namespaces either side
	// offers that both sides' patterns match (wire.MatchNamespace), so a
	// namespace neither replicates is never sent or received. Default nil:
	// every namespace (like "*").
	Namespaces []string
}

// DefaultSyncConfig returns the default anti-entropy configuration.
// Network must still be set.
func DefaultSyncConfig() SyncConfig {
	return SyncConfig{
		Interval:       5 * time.Second,
		MaxIncoming:    4,
		ChunkBytes:     1 << 20,
		MaxValueSize:   1 << 20,
		IdleTimeout:    30 * time.Second,
		ValidNamespace: storage.ValidNamespace,
		Logger:         slog.Default(),
		TombstoneGrace: storage.DefaultTombstoneGrace,
		PullFirstWait:  10 * time.Minute,
		Now:            time.Now,
	}
}

// maxChunkBytes is the largest ChunkBytes: a chunk is sent once it reaches
// ChunkBytes, so it may exceed it by one delta (≤ wire.MaxGossipMessage).
const maxChunkBytes = wire.MaxFrameSize - 1 - wire.MaxGossipMessage

// Validate reports every invalid field of c, or nil.
func (c SyncConfig) Validate() error {
	var errs []error
	if c.Network == "" {
		errs = append(errs, errors.New("network name required"))
	}
	if c.Interval <= 0 {
		errs = append(errs, fmt.Errorf("interval must be positive, got %s", c.Interval))
	}
	if c.MaxIncoming <= 0 {
		errs = append(errs, fmt.Errorf("max incoming rounds must be positive, got %d", c.MaxIncoming))
	}
	if c.ChunkBytes <= 0 || c.ChunkBytes > maxChunkBytes {
		errs = append(errs, fmt.Errorf("chunk bytes %d not in 1..%d", c.ChunkBytes, maxChunkBytes))
	}
	if c.MaxValueSize <= 0 || c.MaxValueSize > wire.MaxValueSizeLimit {
		errs = append(errs, fmt.Errorf("max value size %d not in 1..%d", c.MaxValueSize, wire.MaxValueSizeLimit))
	}
	if c.IdleTimeout <= 0 {
		errs = append(errs, fmt.Errorf("idle timeout must be positive, got %s", c.IdleTimeout))
	}
	if c.ValidNamespace == nil {
		errs = append(errs, errors.New("namespace check required (start from DefaultSyncConfig)"))
	}
	if c.Logger == nil {
		errs = append(errs, errors.New("logger required (start from DefaultSyncConfig)"))
	}
	if c.TombstoneGrace <= 0 {
		errs = append(errs, fmt.Errorf("tombstone grace must be positive, got %s", c.TombstoneGrace))
	}
	if c.PullFirstWait <= 0 {
		errs = append(errs, fmt.Errorf("pull-first wait must be positive, got %s", c.PullFirstWait))
	}
	if c.Now == nil {
		errs = append(errs, errors.New("wall clock (Now) required (start from DefaultSyncConfig)"))
	}
	if len(c.Namespaces) > wire.MaxPatterns {
		errs = append(errs, fmt.Errorf("%d namespace patterns, at most %d", len(c.Namespaces), wire.MaxPatterns))
	}
	for _, p := range c.Namespaces {
		if err := wire.ValidPattern(p); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("gossip: invalid sync config: %w", err)
	}
	return nil
}

// seed returns the configured seed, or one derived from self.
func (c SyncConfig) seed(self libp2ppeer.ID) uint64 {
	if c.Seed != 0 {
		return c.Seed
	}
	h := fnv.New64a()
	h.Write([]byte(self))
	return h.Sum64()
}

// NamespaceStats describes one namespace of a round.
type NamespaceStats struct {
	Namespace      string
	RoundTrips     int   // reconciliation messages exchanged, halved and rounded up
	BytesSent      int64 // all frames of this namespace, both phases
	BytesReceived  int64
	StatesSent     int // states this side sent
	StatesReceived int // states the peer sent
	Repaired       int // received states that changed local state
	Rejected       int // received states refused (clock drift)
	StaleDropped   int // own states dropped as stale after pulling first (see the package doc)
	// Deferred: a side declined the other's states, because another round
	// was already streaming the namespace to it (bulk.go).
	Deferred bool
}

// Clean reports whether the namespace was identical on both sides.
func (s NamespaceStats) Clean() bool {
	return s.StatesSent == 0 && s.StatesReceived == 0 && !s.Deferred
}

// RoundStats describes one anti-entropy round with one peer.
type RoundStats struct {
	Peer       libp2ppeer.ID
	Initiator  bool
	Duration   time.Duration
	Namespaces []NamespaceStats
	Err        error
}

// Clean reports whether the round completed and found no difference.
func (r RoundStats) Clean() bool {
	if r.Err != nil {
		return false
	}
	for _, ns := range r.Namespaces {
		if !ns.Clean() {
			return false
		}
	}
	return true
}

// Progress tells how far the current (or last) round of a namespace got.
type Progress struct {
	Syncing        bool      `json:"syncing"`                   // a round is receiving states now
	Peer           string    `json:"peer,omitempty"`            // the peer of that round
	KeysReceived   uint64    `json:"keys_received"`             // states received in that round so far
	KeysEstimated  uint64    `json:"keys_estimated"`            // states the peer announced it streams whole
	RangesDone     int       `json:"ranges_done"`               // streamed ranges fully received
	RangesTotal    int       `json:"ranges_total"`              // streamed ranges announced
	LastRound      time.Time `json:"last_round,omitzero"`       // end of the last completed round
	LastRoundClean bool      `json:"last_round_clean,omitzero"` // it found no difference
	PullFirst      bool      `json:"pull_first,omitzero"`       // away longer than the grace: own old states held back
	Synced         time.Time `json:"synced,omitzero"`           // the synced mark: last round with an up-to-date peer
}

// Syncer runs anti-entropy: it reconciles namespaces with peers over
// SyncProtocol and applies what differs. Safe for concurrent use.
type Syncer struct {
	h     host.Host
	proto protocol.ID // SyncProtocol(cfg.Network)
	store Store
	apply Applier
	cfg   SyncConfig
	log   *slog.Logger

	ctx    context.Context // lifetime; cancelled by Close
	cancel context.CancelFunc
	// wg counts the loop and every round (served or initiated); Add only
	// under mu while not closed, so Close's Wait never races an Add.
	wg       sync.WaitGroup
	incoming chan struct{} // semaphore of served rounds
	triggers chan libp2ppeer.ID
	fresh    *freshness // the rejoin rule's state (pullfirst.go)
	// beforePlan, if set, runs after a namespace's reconciliation and
	// before its plan exchange. Set only by tests (testhooks.go).
	beforePlan atomic.Pointer[func(ns string)]

	mu struct {
		sync.Mutex
		rng      *rand.Rand
		progress map[string]*Progress
		// progressOwner is, per namespace, the round whose counts Progress
		// shows (a token of receiveStates): the one holding the receiving
		// lock, else the latest to start receiving.
		progressOwner map[string]*int
		receiving     map[string]*bulkLock       // receiving locks (bulk.go)
		generation    map[string]uint64          // receives completed under each lock (bulk.go)
		warned        map[string]struct{}        // ns "\x00" key of states warned about (warnTooLarge)
		triggered     map[libp2ppeer.ID]struct{} // peers queued in triggers
		started       bool
		closed        bool
	}
}

// NewSyncer registers the sync protocol on h. It serves peers at once;
// Start begins this side's periodic rounds. An invalid cfg is an error
// (see SyncConfig.Validate).
func NewSyncer(h host.Host, store Store, apply Applier, cfg SyncConfig) (*Syncer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Syncer{h: h, proto: SyncProtocol(cfg.Network), store: store, apply: apply, cfg: cfg, log: cfg.Logger,
		incoming: make(chan struct{}, cfg.MaxIncoming), triggers: make(chan libp2ppeer.ID, 64)}
	fresh, err := newFreshness(store, cfg)
	if err != nil {
		return nil, err
	}
	s.fresh = fresh
	s.ctx, s.cancel = context.WithCancel(context.Background())
	seed := cfg.seed(h.ID())
	s.mu.rng = rand.New(rand.NewPCG(seed, seed>>1|1))
	s.mu.progress = make(map[string]*Progress)
	s.mu.progressOwner = make(map[string]*int)
	s.mu.receiving = make(map[string]*bulkLock)
	s.mu.generation = make(map[string]uint64)
	s.mu.warned = make(map[string]struct{})
	s.mu.triggered = make(map[libp2ppeer.ID]struct{})
	h.SetStreamHandler(s.proto, s.serve)
	return s, nil
}

// Start begins periodic rounds with random peers and rounds triggered by
// Trigger. It does nothing after Close.
func (s *Syncer) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.started || s.mu.closed {
		return
	}
	s.mu.started = true
	s.wg.Add(1)
	go s.loop()
}

// Close unregisters the protocol, ends every round (served to a peer or
// initiated here: their streams are reset and their contexts cancelled)
// and waits for them: once it returns, no Applier or OnRound call is
// running or will start. A round blocked in the Store or an Applier that
// ignores its context delays Close until it returns. Idempotent.
func (s *Syncer) Close() error {
	s.mu.Lock()
	s.mu.closed = true
	s.mu.Unlock()
	s.h.RemoveStreamHandler(s.proto)
	s.cancel()
	s.wg.Wait()
	return nil
}

// enter counts a round in wg, unless the syncer is closed.
func (s *Syncer) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

// Trigger asks for a round with p soon (e.g. p just connected). It never
// blocks; a trigger is dropped if many are pending, and ignored when the
// round is due if p does not speak this network's sync protocol (Supports).
//
// A peer already waiting for its triggered round is not queued twice, so
// that a burst of triggers (a burst of writes too large to gossip) costs
// one round per peer.
func (s *Syncer) Trigger(p libp2ppeer.ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.mu.triggered[p]; ok {
		return
	}
	select {
	case s.triggers <- p:
		s.mu.triggered[p] = struct{}{}
	default:
	}
}

// untrigger forgets that p's triggered round is waiting: it is starting,
// and a later trigger asks for another.
func (s *Syncer) untrigger(p libp2ppeer.ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.mu.triggered, p)
}

func (s *Syncer) jittered() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := 0.8 + 0.4*s.mu.rng.Float64()
	return time.Duration(float64(s.cfg.Interval) * f)
}

func (s *Syncer) loop() {
	defer s.wg.Done()
	timer := time.NewTimer(s.jittered())
	defer timer.Stop()
	for {
		var p libp2ppeer.ID
		select {
		case <-s.ctx.Done():
			return
		case p = <-s.triggers:
			s.untrigger(p)
			if !s.Supports(p) {
				continue // a light client or a peer of another network: never a partner
			}
		case <-timer.C:
			timer.Reset(s.jittered())
			var ok bool
			if p, ok = s.RandomPeer(); !ok {
				continue
			}
		}
		_, _ = s.SyncWith(s.ctx, p)
	}
}

// Protocol returns the protocol ID the syncer speaks, SyncProtocol of its
// network.
func (s *Syncer) Protocol() protocol.ID { return s.proto }

// Supports reports whether p is known (from identify) to speak this
// network's sync protocol: only such peers are sync partners.
func (s *Syncer) Supports(p libp2ppeer.ID) bool {
	ok, err := s.h.Peerstore().SupportsProtocols(p, s.proto)
	return err == nil && len(ok) > 0
}

// Partners returns the connected peers that speak this network's sync
// protocol (the peers RandomPeer picks from), sorted.
func (s *Syncer) Partners() []libp2ppeer.ID {
	peers := slices.DeleteFunc(s.h.Network().Peers(), func(p libp2ppeer.ID) bool { return !s.Supports(p) })
	slices.Sort(peers)
	return peers
}

// RandomPeer picks at random a connected peer that speaks this network's
// sync protocol; peers of other networks and libp2p peers that are not
// grapevine peers are never picked.
func (s *Syncer) RandomPeer() (libp2ppeer.ID, bool) {
	peers := s.Partners()
	if len(peers) == 0 {
		return "", false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return peers[s.mu.rng.IntN(len(peers))], true
}

// Progress returns the sync progress of every namespace seen so far.
func (s *Syncer) Progress() map[string]Progress {
	s.mu.Lock()
	out := make(map[string]Progress, len(s.mu.progress))
	for ns, p := range s.mu.progress {
		out[ns] = *p
	}
	s.mu.Unlock()
	for ns, p := range out {
		s.fresh.progress(ns, &p)
		out[ns] = p
	}
	return out
}

func (s *Syncer) updateProgress(ns string, f func(*Progress)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.mu.progress[ns]
	if p == nil {
		p = &Progress{}
		s.mu.progress[ns] = p
	}
	f(p)
}

// SyncWith runs one round with p as the initiator: every namespace either
// side holds is reconciled and repaired both ways. The round ends when ctx
// is done or the syncer is closed; after Close it returns ErrClosed.
func (s *Syncer) SyncWith(ctx context.Context, p libp2ppeer.ID) (RoundStats, error) {
	stats := RoundStats{Peer: p, Initiator: true}
	if !s.enter() {
		return stats, ErrClosed
	}
	defer s.wg.Done()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.ctx, cancel)()
	start := time.Now()
	str, err := s.h.NewStream(network.WithAllowLimitedConn(ctx, "sync"), p, s.proto)
	if err == nil {
		err = s.round(ctx, str, &stats)
	} else {
		err = fmt.Errorf("gossip: open sync stream to %s: %w", p, err)
	}
	return s.finish(stats, start, err)
}

func (s *Syncer) finish(stats RoundStats, start time.Time, err error) (RoundStats, error) {
	stats.Duration, stats.Err = time.Since(start), err
	if err != nil && s.ctx.Err() == nil {
		s.log.Debug("sync round failed", "peer", stats.Peer, "initiator", stats.Initiator, "err", err)
	}
	if s.cfg.OnRound != nil {
		s.cfg.OnRound(stats)
	}
	return stats, err
}

// serve answers a round a peer started. It runs in libp2p's stream
// handler goroutine, counted in wg like every round; after Close it
// refuses the stream.
func (s *Syncer) serve(str network.Stream) {
	if !s.enter() {
		_ = str.Reset()
		return
	}
	defer s.wg.Done()
	stats := RoundStats{Peer: str.Conn().RemotePeer()}
	select {
	case s.incoming <- struct{}{}:
		defer func() { <-s.incoming }()
	default:
		_ = str.SetDeadline(time.Now().Add(s.cfg.IdleTimeout))
		c := newFrameConn(str)
		_ = c.write(wire.FrameError, []byte("busy: too many sync rounds; retry later"))
		_ = c.flush()
		_ = str.Close()
		return
	}
	_, _ = s.finish(stats, time.Now(), s.round(s.ctx, str, &stats))
}

// stream is what a round needs of a libp2p stream.
type stream interface {
	io.ReadWriteCloser
	Reset() error
	SetDeadline(time.Time) error
}

// round runs the protocol on str, for either role, and closes str.
func (s *Syncer) round(ctx context.Context, str stream, stats *RoundStats) (err error) {
	defer func() {
		if err != nil {
			_ = str.Reset()
		} else {
			_ = str.Close()
		}
	}()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { _ = str.Reset() })
	defer stop()
	// The round fails when no frame moves either way for IdleTimeout.
	c := newFrameConn(str)
	c.statesLimit = wire.StatesFrameLimit(s.cfg.MaxValueSize)
	c.progress = func() { _ = str.SetDeadline(time.Now().Add(s.cfg.IdleTimeout)) }
	c.progress()

	mine := slices.DeleteFunc(slices.Clone(s.store.Namespaces()), func(ns string) bool { return !wire.MatchNamespace(s.cfg.Namespaces, ns) })
	var theirs, theirPatterns []string
	if stats.Initiator {
		if err = c.write(wire.FrameHello, s.fresh.hello(s.hello(mine))); err == nil {
			err = c.flush()
		}
		if err != nil {
			return err
		}
	}
	p, err := c.expect(wire.FrameHello)
	if err != nil {
		return err
	}
	if theirs, err = readHello(p, s.cfg.ValidNamespace); err != nil {
		return err
	}
	if c.peerStatesLimit, err = wire.HelloStatesLimit(p); err != nil {
		return protocolErr("%w", err)
	}
	marks, err := wire.UnmarshalHelloSynced(p)
	if err != nil {
		return protocolErr("%w", err)
	}
	if c.plans, err = wire.HelloPlans(p); err != nil {
		return protocolErr("%w", err)
	}
	if c.s2, err = wire.HelloS2(p); err != nil {
		return protocolErr("%w", err)
	}
	if theirPatterns, err = wire.HelloPatterns(p); err != nil {
		return protocolErr("%w", err)
	}
	if !stats.Initiator {
		if err = c.write(wire.FrameHello, s.fresh.hello(s.hello(mine))); err == nil {
			err = c.flush()
		}
		if err != nil {
			return err
		}
	}
	all := append(slices.Clone(mine), theirs...)
	slices.Sort(all)
	all = slices.DeleteFunc(slices.Compact(all), func(ns string) bool {
		return !wire.MatchNamespace(s.cfg.Namespaces, ns) || !wire.MatchNamespace(theirPatterns, ns)
	})
	for _, ns := range all {
		nsStats := NamespaceStats{Namespace: ns}
		sentBefore, rcvBefore := c.sent, c.rcv
		err := s.reconcileNamespace(ctx, c, stats.Peer, ns, stats.Initiator, &nsStats, marks)
		nsStats.BytesSent, nsStats.BytesReceived = c.sent-sentBefore, c.rcv-rcvBefore
		stats.Namespaces = append(stats.Namespaces, nsStats)
		if err != nil {
			if errors.Is(err, ErrProtocol) || errors.Is(err, reconcile.ErrMalformed) {
				_ = c.write(wire.FrameError, []byte(err.Error()))
				_ = c.flush()
			}
			return fmt.Errorf("gossip: sync %s with %s: %w", ns, stats.Peer, err)
		}
	}
	return nil
}

// nsIndex adapts a Store's namespace to reconcile.Index.
type nsIndex struct {
	store Store
	ns    string
}

func (x nsIndex) Summarize(lo, hi uint64) reconcile.Summary {
	return x.store.Summarize(x.ns, lo, hi)
}

func (x nsIndex) Items(lo, hi uint64, fn func(reconcile.Item) error) error {
	return x.store.Items(x.ns, lo, hi, func(it storage.Item) error { return fn(reconcile.Item(it)) })
}

// syncNamespace reconciles ns and exchanges what differs; pf, if not nil,
// withholds this side's old states (pull-first).
func (s *Syncer) syncNamespace(ctx context.Context, c *frameConn, from libp2ppeer.ID, ns string, initiator bool, st *NamespaceStats, pf *pullFirst) error {
	ix := nsIndex{store: s.store, ns: ns}
	gen := s.bulkGeneration(ns) // before the index is read (bulk.go)
	var sess *reconcile.Session
	var err error
	if initiator {
		if sess, err = reconcile.NewInitiator(ix, reconcile.DefaultConfig()); err != nil {
			return err
		}
		msg, err := sess.Start()
		if err != nil {
			return err
		}
		if err := c.write(wire.FrameReconcile, msg); err != nil {
			return err
		}
		if err := c.flush(); err != nil {
			return err
		}
	} else if sess, err = reconcile.NewResponder(ix, reconcile.DefaultConfig()); err != nil {
		return err
	}
	var out reconcile.Outcome
	for !sess.Done() {
		p, err := c.expect(wire.FrameReconcile)
		if err != nil {
			return err
		}
		reply, done, err := sess.Handle(p)
		if err != nil {
			return err
		}
		o := sess.TakeOutcome()
		out.Send, out.Stream, out.Receive = append(out.Send, o.Send...), append(out.Stream, o.Stream...), append(out.Receive, o.Receive...)
		out.Held = append(out.Held, o.Held...)
		if reply != nil {
			if err := c.write(wire.FrameReconcile, reply); err != nil {
				return err
			}
			if err := c.flush(); err != nil {
				return err
			}
		}
		if done {
			break
		}
	}
	ss := sess.Stats()
	st.RoundTrips = (ss.MessagesSent + ss.MessagesReceived + 1) / 2
	pf.setHeld(out.Held)
	if f := s.beforePlan.Load(); f != nil {
		(*f)(ns)
	}
	pl, err := s.exchangePlans(c, ns, from, gen, len(out.Send) > 0 || len(out.Stream) > 0)
	if err != nil {
		return err
	}
	if pl.lock != nil {
		defer pl.lock.release(true)
	}
	if pl.peerDeclined {
		out.Send, out.Stream = nil, nil // the peer receives this namespace from another peer now
	}
	if pl.declined {
		out.Receive = nil
	}
	st.Deferred = pl.deferred
	locked := pl.lock != nil
	if initiator {
		if err := s.sendStates(c, ns, out, st, pf); err != nil {
			return err
		}
		return s.receiveStates(ctx, c, from, ns, out.Receive, st, pf, locked)
	}
	if err := s.receiveStates(ctx, c, from, ns, out.Receive, st, pf, locked); err != nil {
		return err
	}
	return s.sendStates(c, ns, out, st, pf)
}

// sendStates sends the states the peer lacks, in chunks, then wire.FrameEnd;
// those pf withholds are left out.
func (s *Syncer) sendStates(c *frameConn, ns string, out reconcile.Outcome, st *NamespaceStats, pf *pullFirst) error {
	ck := s.newChunker(c, ns, st)
	add := func(it storage.Item, state crdt.State) error {
		if pf.withhold(it, state) {
			return nil
		}
		return ck.add(it.Key, state)
	}
	for _, it := range out.Send {
		state, err := s.store.Get(ns, it.Type, it.Key)
		if errors.Is(err, storage.ErrNotFound) {
			continue // purged since the reconciliation
		}
		if err != nil {
			return err
		}
		if err := add(storage.Item(it), state); err != nil {
			return err
		}
	}
	for _, r := range out.Stream {
		if err := s.store.States(ns, r.Lo, r.Hi, func(it storage.Item, state crdt.State) error {
			return add(it, state)
		}); err != nil {
			return err
		}
	}
	if err := ck.flush(); err != nil {
		return err
	}
	if err := c.write(wire.FrameEnd, nil); err != nil {
		return err
	}
	return c.flush()
}

// receiveStates applies the peer's chunks until wire.FrameEnd. Chunks are
// committed in order, one at a time, while the next is read and decoded;
// so an interrupted transfer keeps what was committed and the next round
// resumes from there. pf, if not nil, records the keys received. locked
// tells whether this round holds ns's receiving lock: Progress then shows
// this round's counts, whatever other rounds receive meanwhile.
func (s *Syncer) receiveStates(ctx context.Context, c *frameConn, from libp2ppeer.ID, ns string, spans []reconcile.Span, st *NamespaceStats, pf *pullFirst, locked bool) error {
	var expected uint64
	for _, sp := range spans {
		expected += sp.Count
	}
	tok := new(int)
	s.mu.Lock()
	if locked || s.mu.receiving[ns] == nil {
		s.mu.progressOwner[ns] = tok
	}
	s.mu.Unlock()
	// mine updates ns's progress with f if this round owns it.
	mine := func(f func(*Progress)) {
		s.updateProgress(ns, func(p *Progress) {
			if s.mu.progressOwner[ns] == tok {
				f(p)
			}
		})
	}
	mine(func(p *Progress) {
		*p = Progress{Syncing: true, Peer: from.String(), KeysEstimated: expected, RangesTotal: len(spans), LastRound: p.LastRound, LastRoundClean: p.LastRoundClean}
	})
	defer s.updateProgress(ns, func(p *Progress) {
		if s.mu.progressOwner[ns] == tok {
			p.Syncing = false
			delete(s.mu.progressOwner, ns)
		}
		p.LastRound, p.LastRoundClean = time.Now(), st.Clean()
	})

	// One applier goroutine commits chunks in order; the reader hands it
	// at most one chunk ahead.
	chunks := make(chan []wire.Delta, 1)
	applied := make(chan struct{})
	var failed atomic.Bool
	var applyErr error
	var repaired int
	go func() {
		defer close(applied)
		for deltas := range chunks {
			if failed.Load() {
				continue // drain: the reader stops at its next frame
			}
			changed, err := s.apply(ctx, from, ns, deltas)
			if err != nil {
				applyErr = err
				failed.Store(true)
				continue
			}
			repaired += changed
		}
	}()
	finish := func(err error) error {
		close(chunks)
		<-applied // applyErr and repaired are safe to read from here on
		st.Repaired += repaired
		if err == nil {
			err = applyErr
		}
		return err
	}

	for !failed.Load() {
		kind, p, err := c.read()
		if err != nil {
			return finish(err)
		}
		switch kind {
		case wire.FrameEnd:
			if len(p) != 0 {
				return finish(protocolErr("end frame with payload"))
			}
			mine(func(p *Progress) { p.RangesDone = p.RangesTotal })
			return finish(nil)
		case wire.FrameStates, wire.FrameStatesS2:
		default:
			return finish(protocolErr("got frame kind %d while receiving states", kind))
		}
		if p, err = c.states(kind, p); err != nil {
			return finish(err)
		}
		b, err := wire.Unmarshal(p)
		if err != nil {
			return finish(fmt.Errorf("%w: %w", ErrProtocol, err))
		}
		if b.Namespace != ns {
			return finish(protocolErr("states of namespace %q while syncing %q", b.Namespace, ns))
		}
		pf.noteReceived(b.Deltas)
		deltas := b.Deltas[:0]
		for _, d := range b.Deltas {
			if r, ok := d.State.(crdt.Register); ok && s.cfg.CheckTime != nil {
				if s.cfg.CheckTime(r.Time) != nil {
					st.Rejected++
					continue
				}
			}
			deltas = append(deltas, d)
		}
		st.StatesReceived += len(b.Deltas)
		var last uint64
		if len(b.Deltas) > 0 {
			d := b.Deltas[len(b.Deltas)-1]
			last = storage.PlacementHash(d.State.Type(), d.Key)
		}
		mine(func(p *Progress) {
			p.KeysReceived += uint64(len(b.Deltas))
			p.RangesDone = 0
			for _, sp := range spans {
				if sp.Hi < last {
					p.RangesDone++
				}
			}
		})
		if len(deltas) > 0 {
			chunks <- deltas
		}
	}
	return finish(nil)
}

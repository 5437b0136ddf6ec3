package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/gossip"
	"github.com/grapevine-kv/grapevine/internal/wire"
	"github.com/grapevine-kv/grapevine/peer"
	"github.com/grapevine-kv/grapevine/storage"
	ic "github.com/libp2p/go-libp2p/core/crypto"
	libp2ppeer "github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"
)

// MaxKeyLen is the largest key in bytes (the wire's limit).
const MaxKeyLen = wire.MaxKeyLen

// MaxValueSizeLimit is the hard maximum of Config.MaxValueSize (32 MiB): a
// state travels whole in one sync frame, and this bounds the largest frame
// a peer reads.
const MaxValueSizeLimit = wire.MaxValueSizeLimit

// Node is a grapevine peer: storage, replication and the libp2p host. Its
// methods are safe for concurrent use.
type Node struct {
	cfg         Config
	log         *slog.Logger
	db          *storage.DB
	clock       *crdt.Clock
	peer        *peer.Peer
	push        *gossip.Push
	syncer      *gossip.Syncer
	self        crdt.ReplicaID
	selfName    string // the peer ID as printed (base58), made once: every answer names its server
	reg         *prometheus.Registry
	m           metrics
	rounds      *rounds     // every sync round's outcome (rounds.go)
	born        time.Time   // when New ran, by cfg.Wall: the sync lag of a namespace never clean
	countsCache countsCache // the last counts of Status and /metrics
	// recovered is set if New replaced a damaged database (quarantine.go).
	recovered *Recovery

	// writers holds the namespaces with a writer list (Config.Writers) and
	// their keys; read-only after New. key signs this peer's writes there.
	writers writerLists
	key     ic.PrivKey
	refused *prometheus.CounterVec // grapevine_refused_states_total
	cas     *casTracker            // grapevine_cas_overwritten_total
	ignored prometheus.Counter     // grapevine_ignored_states_total
	fwd     *forwarder             // requests for namespaces held elsewhere (forward.go)
	joinedC chan struct{}          // a namespace was joined: advertise it (partial.go); cap 1
	// holderHooks is the holders loop's test-only state (partial.go).
	holderHooks holderHooks

	// beforeSyncApply, if set (SetBeforeSyncApplyForTest), runs before
	// each chunk of synced states is applied; an error aborts the round.
	beforeSyncApply atomic.Pointer[func() error]
	// publishGate, if set (HoldPublishForTest), holds the publisher until
	// it is closed.
	publishGate atomic.Pointer[chan struct{}]

	closed atomic.Bool // set first thing in Close: every method then returns ErrClosed

	queue  chan *request
	pubq   chan publication // committed local changes for gossip (publish.go)
	ctx    context.Context  // lifetime; cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu struct {
		sync.Mutex
		started, closed bool
		joined          map[string]bool
		watchers        map[*watcher]struct{}
	}
}

// request is one writer's ops waiting for the apply loop.
type request struct {
	ops     []storage.Op
	local   bool          // publish the changes; a remote batch is not re-published
	atomic  bool          // a transaction: applied alone, all or nothing (commitTxn)
	done    chan struct{} // closed when results or err are set; nil for remote batches
	results []storage.Result
	err     error
}

// New opens the database and builds the peer and gossip, without starting
// anything; call Start.
func New(ctx context.Context, cfg Config) (_ *Node, err error) {
	layers, err := cfg.layers()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	n := &Node{cfg: cfg, log: cfg.Logger, queue: make(chan *request, 1024), pubq: make(chan publication, publishQueue), reg: prometheus.NewRegistry(), born: cfg.Wall()}
	layers.peer.Metrics = n.reg
	n.mu.joined = make(map[string]bool)
	n.joinedC = make(chan struct{}, 1)
	// The lifetime context exists before anything that may call back into
	// the node (the syncer serves peers as soon as it is built).
	n.ctx, n.cancel = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			n.cancel()
		}
	}()

	db, recovered, err := openStore(cfg, layers.storage)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStorage, err)
	}
	n.db, n.recovered = db, recovered
	newRecoveryMetric(n.reg, recovered)
	n.clock = crdt.NewClock(cfg.Wall, cfg.MaxDrift)
	n.clock.Restore(db.ClockMark())

	if cfg.Host != nil {
		n.peer, err = peer.NewWithHost(ctx, cfg.Host, layers.peer)
	} else {
		n.peer, err = peer.New(ctx, layers.peer)
	}
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("%w: %w", ErrNetwork, err)
	}
	n.self = crdt.ReplicaID(n.peer.ID())
	n.selfName = n.peer.ID().String()
	n.writers, _ = newWriterLists(cfg.Writers) // validated by layers
	n.refused = newRefusedMetric(n.reg)
	if len(n.writers) > 0 {
		if n.key = n.peer.Host().Peerstore().PrivKey(n.peer.ID()); n.key == nil {
			_ = n.peer.Close()
			_ = db.Close()
			return nil, fmt.Errorf("%w: writer lists need the host's private key to sign, and its peerstore has none", ErrInvalidConfig)
		}
	}

	n.ignored = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "grapevine_ignored_states_total",
		Help: "States received (gossip, announcements, sync) for a namespace this peer does not replicate (Config.Namespaces), ignored.",
	})
	n.reg.MustRegister(n.ignored)
	n.fwd = newForwarder(n)
	pushCfg := layers.gossip
	pushCfg.CheckTime = n.checkRemoteTime
	pushCfg.Admit = n.admit
	n.push, err = gossip.NewPush(n.peer.Host(), pushCfg, n.deliver)
	if err != nil {
		_ = n.peer.Close()
		_ = db.Close()
		return nil, fmt.Errorf("%w: %w", ErrNetwork, err)
	}
	n.m = newMetrics(n.reg, n.push, n.peer, n)
	n.cas = newCASTracker(n.reg)
	n.rounds = newRounds(n, newSyncMetrics(n.reg))
	syncCfg := layers.sync
	syncCfg.CheckTime, syncCfg.OnRound = n.clock.Check, n.rounds.observe
	n.syncer, err = gossip.NewSyncer(n.peer.Host(), db, n.applySynced, syncCfg)
	if err != nil {
		_ = n.push.Close()
		_ = n.peer.Close()
		_ = db.Close()
		return nil, err
	}
	n.peer.Notify(n.syncer.Trigger)
	return n, nil
}

// Start joins the gossip topics of every namespace the node holds (and the
// default one), starts the apply loop and connects to the network.
func (n *Node) Start(ctx context.Context) error {
	n.mu.Lock()
	if n.mu.closed {
		n.mu.Unlock()
		return ErrClosed
	}
	if n.mu.started {
		n.mu.Unlock()
		return ErrAlreadyStarted
	}
	n.mu.started = true
	n.mu.Unlock()
	n.wg.Add(3)
	go n.applyLoop()
	go n.publishLoop()
	go n.expireLoop()
	if err := n.push.JoinAnnouncements(); err != nil {
		return translate(err, ErrNetwork)
	}
	for _, ns := range append([]string{DefaultNamespace}, n.db.Namespaces()...) {
		if err := n.join(ns); err != nil {
			return err
		}
	}
	if !n.cfg.ManualSync {
		n.syncer.Start()
	}
	n.serveForward()
	if err := n.peer.Start(ctx); err != nil {
		return translate(err, ErrNetwork)
	}
	n.wg.Add(1)
	go n.holdersLoop()
	return nil
}

// Close stops the node: network first, then the apply loop, then storage.
// It is idempotent.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.mu.closed {
		n.mu.Unlock()
		return nil
	}
	n.mu.closed = true
	n.closed.Store(true)
	n.mu.Unlock()
	n.peer.Host().RemoveStreamHandler(n.fwd.proto)
	netErr := errors.Join(n.syncer.Close(), n.push.Close(), n.peer.Close())
	n.cancel()
	n.wg.Wait()
	n.closeWatchers()
	dbErr := n.db.Close()
	return errors.Join(wrap(ErrNetwork, netErr), wrap(ErrStorage, dbErr))
}

// DatabaseDir returns where a node with the given data directory keeps its
// database (tools that work on a stopped peer's files use it).
func DatabaseDir(dataDir string) string { return filepath.Join(dataDir, "db") }

// Err returns ErrClosed once Close has been called, and nil before (like
// context.Context's Err). It never blocks.
func (n *Node) Err() error {
	if n.closed.Load() {
		return ErrClosed
	}
	return nil
}

// ID returns the peer's libp2p ID as a replica ID.
func (n *Node) ID() crdt.ReplicaID { return n.self }

// Peer returns the libp2p side of the node.
func (n *Node) Peer() *peer.Peer { return n.peer }

// Metrics returns the node's Prometheus registry.
func (n *Node) Metrics() *prometheus.Registry { return n.reg }

// join subscribes to a namespace's gossip once; a namespace this peer does
// not replicate is never joined.
func (n *Node) join(ns string) error {
	if !n.replicates(ns) {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.mu.joined[ns] {
		return nil
	}
	if err := n.push.Join(ns); err != nil {
		return translate(err, ErrNetwork)
	}
	n.mu.joined[ns] = true
	select { // advertise it at once (holdersLoop)
	case n.joinedC <- struct{}{}:
	default:
	}
	return nil
}

// checkRemoteTime refuses a remote stamp too far in the future or older
// than the tombstone horizon.
func (n *Node) checkRemoteTime(ts crdt.Timestamp) error {
	if err := n.clock.Check(ts); err != nil {
		return err
	}
	horizon := n.cfg.Wall().Add(-n.cfg.Storage.TombstoneGrace).UnixMilli()
	if ts.Millis() < horizon {
		return fmt.Errorf("node: stamp %s is older than the tombstone horizon", ts)
	}
	return nil
}

// deliver queues a validated remote batch for the apply loop. The topic
// validator has already passed every state through admit (Gossip.Admit)
// and rejected the whole message if one was refused. A batch announced on
// the namespaces topic (a namespace's first write) makes the node join the
// namespace's topic at once, so that the next writes arrive by gossip too.
func (n *Node) deliver(_ libp2ppeer.ID, b wire.Batch) {
	if !n.replicates(b.Namespace) {
		n.ignored.Add(float64(len(b.Deltas)))
		return
	}
	if err := n.join(b.Namespace); err != nil && n.ctx.Err() == nil {
		n.log.Debug("joining an announced namespace", "namespace", b.Namespace, "err", err)
	}
	if b.Txn {
		n.deliverTxn(b)
		return
	}
	ops := n.remoteOps(b.Namespace, b.Deltas)
	if len(ops) == 0 {
		return
	}
	select {
	case n.queue <- &request{ops: ops}:
	case <-n.ctx.Done():
	}
}

// remoteOps turns a peer's deltas into ops, advancing the clock past every
// register stamp. A stamp the clock refuses (the wall clock moved since the
// stamp was validated) is dropped rather than stored unobserved; a later
// anti-entropy round brings it again.
func (n *Node) remoteOps(ns string, deltas []wire.Delta) []storage.Op {
	ops := make([]storage.Op, 0, len(deltas))
	for _, d := range deltas {
		if dropReceived(ns, d.State) {
			continue
		}
		if r, ok := d.State.(crdt.Register); ok {
			if err := n.clock.Observe(r.Time); err != nil {
				continue
			}
		}
		ops = append(ops, storage.Op{Namespace: ns, Key: d.Key, State: d.State})
	}
	return ops
}

// apply queues local ops and waits until they are committed.
func (n *Node) apply(ctx context.Context, ops ...storage.Op) ([]storage.Result, error) {
	for _, op := range ops {
		if err := n.join(op.Namespace); err != nil {
			return nil, err
		}
	}
	return n.enqueue(ctx, true, ops)
}

// enqueue hands ops to the apply loop and waits until they are committed.
// Local ops are published as gossip once committed.
func (n *Node) enqueue(ctx context.Context, local bool, ops []storage.Op) ([]storage.Result, error) {
	return n.submit(ctx, &request{ops: ops, local: local, done: make(chan struct{})})
}

// submit hands r to the apply loop and waits until it is committed.
func (n *Node) submit(ctx context.Context, r *request) ([]storage.Result, error) {
	select {
	case n.queue <- r:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrCanceled, ctx.Err())
	case <-n.ctx.Done():
		return nil, ErrClosed
	}
	// Once queued, the write may commit whatever the caller does, so wait
	// for the loop rather than ctx: the answer is then always the truth.
	select {
	case <-r.done:
		return r.results, translate(r.err, ErrStorage)
	case <-n.ctx.Done():
		select {
		case <-r.done:
			return r.results, translate(r.err, ErrStorage)
		default:
			return nil, ErrClosed
		}
	}
}

// applyLoop is the single writer: group commit of everything queued. A
// transaction (an atomic request) is committed alone.
func (n *Node) applyLoop() {
	defer n.wg.Done()
	var held *request // an atomic request that ended the previous batch
	for {
		first := held
		held = nil
		if first == nil {
			select {
			case first = <-n.queue:
			case <-n.ctx.Done():
				return
			}
		}
		if first.atomic {
			n.commitTxn(first)
			continue
		}
		var batch []*request
		var ops []storage.Op
		batch, ops, held = n.collect(first)
		n.commit(batch, ops)
	}
}

// commit runs one apply round: it writes the batch in one storage
// transaction, notifies watchers, acknowledges the writers — so a writer's
// ack implies its change is durable and visible to watchers — and then
// hands the local changes to the publisher (publish.go).
func (n *Node) commit(batch []*request, ops []storage.Op) {
	start := time.Now()
	results, err := n.db.Apply(ops)
	n.m.applySeconds.Observe(time.Since(start).Seconds())
	n.m.batchOps.Observe(float64(len(ops)))
	if err != nil {
		n.log.Error("apply failed", "ops", len(ops), "err", err)
	} else {
		n.notify(ops, results)
	}
	publish := make(map[string][]wire.Delta)
	i := 0
	for _, r := range batch {
		if err != nil {
			r.err = err
		} else {
			r.results = results[i : i+len(r.ops)]
			n.cas.observe(r.ops, r.results, r.local)
			for j, res := range r.results {
				if res.Changed {
					n.m.countApplied(r.local)
				}
				if r.local && res.Err == nil && res.Delta != nil {
					ns := r.ops[j].Namespace
					publish[ns] = append(publish[ns], wire.Delta{Key: r.ops[j].Key, State: res.Delta})
				}
			}
		}
		i += len(r.ops)
		if r.done != nil {
			close(r.done)
		}
	}
	for ns, deltas := range publish {
		n.publish(publication{ns: ns, deltas: deltas})
	}
}

// pushByRounds replicates the local changes too large for a gossip message
// (values above about 1 MiB): it asks for an anti-entropy round with every
// sync partner at once, which sends them the states they lack. Peers not
// connected to this one get them from their own rounds.
func (n *Node) pushByRounds() {
	for _, p := range n.syncer.Partners() {
		n.syncer.Trigger(p)
	}
}

// collect takes first and whatever else is queued, within the batch bounds,
// up to the next atomic request, which it returns as held.
func (n *Node) collect(first *request) (batch []*request, ops []storage.Op, held *request) {
	batch = []*request{first}
	ops = append([]storage.Op(nil), first.ops...)
	size := opsSize(first.ops)
	for len(ops) < n.cfg.MaxBatchOps && size < n.cfg.MaxBatchBytes {
		select {
		case r := <-n.queue:
			if r.atomic {
				return batch, ops, r
			}
			batch = append(batch, r)
			ops = append(ops, r.ops...)
			size += opsSize(r.ops)
		default:
			return batch, ops, nil
		}
	}
	return batch, ops, nil
}

func opsSize(ops []storage.Op) int {
	size := 0
	for _, op := range ops {
		size += len(op.Key) + 64
		if r, ok := op.State.(crdt.Register); ok {
			size += len(r.Value)
		}
	}
	return size
}

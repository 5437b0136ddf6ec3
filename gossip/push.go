package gossip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/internal/wire"
	"github.com/grapevine-kv/grapevine/storage"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	libp2ppeer "github.com/libp2p/go-libp2p/core/peer"
)

// ErrClosed is returned by Push and Syncer methods after Close.
var ErrClosed = errors.New("gossip: closed")

// PushConfig configures Push. Start from DefaultPushConfig; NewPush
// validates it and fills in nothing.
type PushConfig struct {
	// Network names the grapevine network; topics are
	// "/grapevine/<network>/<namespace>". Required: no default, since
	// peers of different networks must never share a topic.
	Network string
	// MaxBatchBytes bounds one message; larger batches are split. A single
	// delta larger than this travels alone. At most MaxMessageBytes.
	// Default wire.GossipBatchTarget (256 KiB): large enough to amortise
	// the per-message cost, small enough for GossipSub's queues.
	MaxBatchBytes int
	// MaxMessageBytes is the largest message accepted from the network;
	// at most wire.MaxBatchSize. Default wire.MaxGossipMessage
	// (1 MiB + 64 KiB): it holds the largest single delta.
	MaxMessageBytes int
	// CheckTime refuses remote register stamps (too far in the future or
	// older than the tombstone horizon). Default nil: every stamp is
	// accepted (the node sets its clock's check).
	CheckTime func(crdt.Timestamp) error
	// Admit refuses a remote state of a namespace (an unsigned or forged
	// state where the namespace has a writer list); a message holding one
	// refused state is rejected whole. It is called from the validator,
	// concurrently, after CheckTime. Default nil: every state is accepted
	// (the node sets its admission check).
	Admit func(namespace string, key []byte, st crdt.State) error
	// ValidNamespace refuses a namespace name announced on the network's
	// namespaces topic (wire.NamespacesTopic). Required. Default
	// storage.ValidNamespace, the names storage accepts.
	ValidNamespace func(string) error
	// Logger receives rejections at debug level. Required. Default
	// slog.Default().
	Logger *slog.Logger
	// AnnounceWindow is how long after a namespace's first message (sent
	// on the namespaces topic, see JoinAnnouncements) this peer keeps
	// sending its messages there while a peer on that topic has not joined
	// the namespace's own. After it, they go on the namespace's topic
	// only: with partial replication the peers that do not replicate the
	// namespace never join, and must not receive its traffic for ever; a
	// holder that joined later than that gets what it missed from
	// anti-entropy. 0 announces the first message only. Default
	// DefaultAnnounceWindow.
	AnnounceWindow time.Duration
}

// DefaultAnnounceWindow is PushConfig.AnnounceWindow's default: time for a
// peer that joins a namespace on its announcement to become known on the
// namespace's topic, directly or after holders of the namespace have found
// each other in the DHT (a few seconds).
const DefaultAnnounceWindow = 10 * time.Second

// DefaultPushConfig returns the default push configuration. Network must
// still be set.
func DefaultPushConfig() PushConfig {
	return PushConfig{
		MaxBatchBytes:   wire.GossipBatchTarget,
		MaxMessageBytes: wire.MaxGossipMessage,
		ValidNamespace:  storage.ValidNamespace,
		Logger:          slog.Default(),
		AnnounceWindow:  DefaultAnnounceWindow,
	}
}

// Validate reports every invalid field of c, or nil.
func (c PushConfig) Validate() error {
	var errs []error
	if c.Network == "" {
		errs = append(errs, errors.New("network name required"))
	}
	if c.MaxMessageBytes <= 0 || c.MaxMessageBytes > wire.MaxBatchSize {
		errs = append(errs, fmt.Errorf("max message bytes %d not in 1..%d", c.MaxMessageBytes, wire.MaxBatchSize))
	}
	if c.MaxBatchBytes <= 0 {
		errs = append(errs, fmt.Errorf("max batch bytes must be positive, got %d", c.MaxBatchBytes))
	} else if c.MaxMessageBytes > 0 && c.MaxBatchBytes > c.MaxMessageBytes {
		errs = append(errs, fmt.Errorf("max batch bytes %d exceeds max message bytes %d", c.MaxBatchBytes, c.MaxMessageBytes))
	}
	if c.ValidNamespace == nil {
		errs = append(errs, errors.New("namespace check required (start from DefaultPushConfig)"))
	}
	if c.Logger == nil {
		errs = append(errs, errors.New("logger required (start from DefaultPushConfig)"))
	}
	if c.AnnounceWindow < 0 {
		errs = append(errs, fmt.Errorf("announce window must not be negative, got %s", c.AnnounceWindow))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("gossip: invalid push config: %w", err)
	}
	return nil
}

// Deliver receives a validated remote batch. It is called from one
// goroutine per namespace and should not block for long.
type Deliver func(from libp2ppeer.ID, b wire.Batch)

// PushStats counts gossip traffic since New.
type PushStats struct {
	Published uint64 // messages this peer published
	Received  uint64 // valid remote messages delivered
	Rejected  uint64 // remote messages refused by the validator
	Announced uint64 // of Published, those sent on the namespaces topic
	// Dropped by GossipSub (anti-entropy repairs them): messages that
	// found this peer's reader behind by readBuffer (Undelivered), and
	// messages not queued to a peer whose outbound queue was full (Unsent).
	Undelivered, Unsent uint64
}

// Push is the GossipSub side of replication. It is safe for concurrent use.
type Push struct {
	cfg     PushConfig
	self    libp2ppeer.ID
	ps      *pubsub.PubSub
	deliver Deliver
	drops   *drops // what GossipSub dropped (trace.go)

	ctx    context.Context // lifetime; cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	published, received, rejected atomic.Uint64
	announcedMsgs                 atomic.Uint64
	dropAll                       atomic.Bool // see SetDropAllForTest

	mu struct {
		sync.Mutex
		closed bool
		topics map[string]*pubsub.Topic
		// announce is the namespaces topic (JoinAnnouncements), nil
		// before; announced holds when each namespace announced there
		// was first.
		announce  *pubsub.Topic
		announced map[string]time.Time
	}
}

// NewPush starts GossipSub on h. Remote batches that pass validation are
// handed to deliver. Topics are joined with Join. An invalid cfg is an
// error (see PushConfig.Validate).
func NewPush(h host.Host, cfg PushConfig, deliver Deliver) (*Push, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := new(drops)
	ps, err := pubsub.NewGossipSub(ctx, h,
		pubsub.WithRawTracer(d),
		pubsub.WithMaxMessageSize(cfg.MaxMessageBytes),
		pubsub.WithMessageSignaturePolicy(pubsub.StrictSign),
		pubsub.WithPeerOutboundQueueSize(1024),
		pubsub.WithValidateQueueSize(1024),
		// A peer's own messages go to every peer known on the topic, not
		// only to its mesh: a peer that has just joined a namespace (on an
		// announcement) is known as subscribed before its GRAFT has put it
		// in any mesh, and announceTopic switches to the namespace's topic
		// as soon as it is known (GossipSub v1.1 flood publishing).
		pubsub.WithFloodPublish(true),
	)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("gossip: start gossipsub: %w", err)
	}
	p := &Push{cfg: cfg, self: h.ID(), ps: ps, deliver: deliver, ctx: ctx, cancel: cancel, drops: d}
	p.mu.topics = make(map[string]*pubsub.Topic)
	p.mu.announced = make(map[string]time.Time)
	return p, nil
}

// TopicName returns the GossipSub topic of a network's namespace.
func TopicName(network, namespace string) string { return wire.Topic(network, namespace) }

// Join subscribes to the namespace's topic, if not yet subscribed.
func (p *Push) Join(namespace string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.closed {
		return ErrClosed
	}
	if _, ok := p.mu.topics[namespace]; ok {
		return nil
	}
	name := TopicName(p.cfg.Network, namespace)
	if err := p.ps.RegisterTopicValidator(name, p.validator(namespace)); err != nil {
		return fmt.Errorf("gossip: validator for %s: %w", name, err)
	}
	t, err := p.ps.Join(name)
	if err != nil {
		return fmt.Errorf("gossip: join %s: %w", name, err)
	}
	sub, err := t.Subscribe(pubsub.WithBufferSize(readBuffer))
	if err != nil {
		return fmt.Errorf("gossip: subscribe %s: %w", name, err)
	}
	p.mu.topics[namespace] = t
	p.wg.Add(1)
	go p.read(sub)
	return nil
}

func (p *Push) read(sub *pubsub.Subscription) {
	defer p.wg.Done()
	defer sub.Cancel()
	for {
		msg, err := sub.Next(p.ctx)
		if err != nil {
			return
		}
		if msg.ReceivedFrom == p.self {
			continue
		}
		b, ok := msg.ValidatorData.(wire.Batch)
		if !ok {
			continue
		}
		p.received.Add(1)
		p.deliver(msg.ReceivedFrom, b)
	}
}

// validator decodes and checks a message once; the decoded batch rides on
// as ValidatorData.
func (p *Push) validator(namespace string) pubsub.ValidatorEx {
	return func(_ context.Context, from libp2ppeer.ID, msg *pubsub.Message) pubsub.ValidationResult {
		if from == p.self {
			return pubsub.ValidationAccept
		}
		if p.dropAll.Load() {
			return pubsub.ValidationIgnore
		}
		b, err := p.check(namespace, msg.Data)
		if err != nil {
			p.rejected.Add(1)
			p.cfg.Logger.Debug("gossip: rejected message", "from", from, "namespace", namespace, "err", err)
			return pubsub.ValidationReject
		}
		msg.ValidatorData = b
		return pubsub.ValidationAccept
	}
}

func (p *Push) check(namespace string, data []byte) (wire.Batch, error) {
	if len(data) > p.cfg.MaxMessageBytes {
		return wire.Batch{}, fmt.Errorf("%w: %d bytes", wire.ErrMalformed, len(data))
	}
	b, err := wire.Unmarshal(data)
	if err != nil {
		return b, err
	}
	if b.Namespace != namespace {
		return b, fmt.Errorf("%w: namespace %q on topic of %q", wire.ErrMalformed, b.Namespace, namespace)
	}
	return b, p.checkStates(namespace, b)
}

// checkStates checks the states of a decoded batch of namespace.
func (p *Push) checkStates(namespace string, b wire.Batch) error {
	if p.cfg.CheckTime != nil {
		for _, d := range b.Deltas {
			if r, ok := d.State.(crdt.Register); ok {
				if err := p.cfg.CheckTime(r.Time); err != nil {
					return err
				}
			}
		}
	}
	if p.cfg.Admit != nil {
		for _, d := range b.Deltas {
			if err := p.cfg.Admit(namespace, d.Key, d.State); err != nil {
				return err
			}
		}
	}
	return nil
}

// Publish sends deltas of one namespace to the network, split into
// messages of at most MaxBatchBytes. A delta too large for a message of
// MaxMessageBytes on its own is not published: Publish returns how many
// were left out, for the caller to replicate otherwise (anti-entropy).
// While no peer is subscribed nothing is encoded nor sent, and nothing
// reported left out: a peer that subscribes later gets the states from
// anti-entropy. The namespace must have been joined.
func (p *Push) Publish(ctx context.Context, namespace string, deltas []wire.Delta) (tooLarge int, err error) {
	p.mu.Lock()
	topic, ok := p.mu.topics[namespace]
	closed := p.mu.closed
	p.mu.Unlock()
	if closed {
		return 0, ErrClosed
	}
	if !ok {
		return 0, fmt.Errorf("gossip: namespace %q not joined", namespace)
	}
	t := topic
	if ann := p.announceTopic(namespace); ann != nil {
		t = ann // the first message goes there; see announceTopic
	}
	// With no peer subscribed a message reaches no one. Signing it cost a
	// lone peer a tenth of its CPU under a write load, and encoding its
	// states a tenth of its allocations.
	if len(t.ListPeers()) == 0 {
		return 0, nil
	}
	header := wire.AppendHeader(nil, namespace)
	msg := append([]byte(nil), header...)
	n := 0
	flush := func() error {
		if n == 0 {
			return nil
		}
		if err := p.send(ctx, t, msg); err != nil {
			return err
		}
		if t != topic {
			p.markAnnounced(namespace) // this call's next messages go there too
		}
		msg, n = append(msg[:0:0], header...), 0
		return nil
	}
	for _, d := range deltas {
		state := crdt.Encode(d.State)
		size := wire.DeltaSize(d.Key, state)
		if len(header)+size > p.cfg.MaxMessageBytes {
			tooLarge++
			continue
		}
		if n > 0 && len(msg)+size > p.cfg.MaxBatchBytes {
			if err := flush(); err != nil {
				return tooLarge, err
			}
		}
		msg = wire.AppendDelta(msg, d.Key, state)
		n++
	}
	return tooLarge, flush()
}

// send publishes msg on t. It counts the message first, so that no peer
// sees a message the stats do not count yet (a failed one is uncounted).
func (p *Push) send(ctx context.Context, t *pubsub.Topic, msg []byte) error {
	p.published.Add(1)
	if err := t.Publish(ctx, msg); err != nil {
		p.published.Add(^uint64(0))
		if p.ctx.Err() != nil {
			return fmt.Errorf("%w: %w", ErrClosed, err) // Close raced with this publish
		}
		return fmt.Errorf("gossip: publish: %w", err)
	}
	return nil
}

// JoinAnnouncements subscribes to the network's namespaces topic
// (wire.NamespacesTopic): from then on, the first message Publish sends of
// a namespace goes there, and batches announced by peers are delivered like
// those of a joined namespace (the receiver is expected to Join the
// namespace). Idempotent.
func (p *Push) JoinAnnouncements() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.closed {
		return ErrClosed
	}
	if p.mu.announce != nil {
		return nil
	}
	name := wire.NamespacesTopic(p.cfg.Network)
	if err := p.ps.RegisterTopicValidator(name, p.announcementValidator()); err != nil {
		return fmt.Errorf("gossip: validator for %s: %w", name, err)
	}
	t, err := p.ps.Join(name)
	if err != nil {
		return fmt.Errorf("gossip: join %s: %w", name, err)
	}
	sub, err := t.Subscribe(pubsub.WithBufferSize(readBuffer))
	if err != nil {
		return fmt.Errorf("gossip: subscribe %s: %w", name, err)
	}
	p.mu.announce = t
	p.wg.Add(1)
	go p.read(sub)
	return nil
}

// announceTopic returns the namespaces topic if the next message of
// namespace should go there rather than on the namespace's own topic: its
// first message, and the next ones within AnnounceWindow of it while a
// peer known on the namespaces topic is not (yet) known on the
// namespace's — so that a peer that joins the namespace on the
// announcement does not miss what follows before its subscription has
// spread. Once it is known, flood publishing (NewPush) sends it this
// peer's messages whether or not a mesh holds it yet. A peer that never
// joins (it does not replicate the namespace) stops receiving them when
// the window ends. nil otherwise, or before JoinAnnouncements.
func (p *Push) announceTopic(namespace string) *pubsub.Topic {
	p.mu.Lock()
	ann, first := p.mu.announce, p.mu.announced[namespace]
	p.mu.Unlock()
	if ann == nil || first.IsZero() {
		return ann
	}
	if time.Since(first) >= p.cfg.AnnounceWindow {
		return nil
	}
	joined := p.ps.ListPeers(TopicName(p.cfg.Network, namespace))
	for _, q := range p.ps.ListPeers(wire.NamespacesTopic(p.cfg.Network)) {
		if !slices.Contains(joined, q) {
			return ann
		}
	}
	return nil
}

// markAnnounced records that a message of namespace went on the
// namespaces topic: the first one starts the AnnounceWindow.
func (p *Push) markAnnounced(namespace string) {
	p.announcedMsgs.Add(1)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.announced[namespace].IsZero() {
		p.mu.announced[namespace] = time.Now()
	}
}

// announcementValidator checks a message of the namespaces topic as a
// namespace's validator does, the namespace being the batch's own, which
// must be a valid name; an announcement must carry at least one state (so
// that making peers join a namespace costs a stored, admitted state, as it
// does through anti-entropy).
func (p *Push) announcementValidator() pubsub.ValidatorEx {
	return func(_ context.Context, from libp2ppeer.ID, msg *pubsub.Message) pubsub.ValidationResult {
		if from == p.self {
			return pubsub.ValidationAccept
		}
		if p.dropAll.Load() {
			return pubsub.ValidationIgnore
		}
		b, err := p.checkAnnouncement(msg.Data)
		if err != nil {
			p.rejected.Add(1)
			p.cfg.Logger.Debug("gossip: rejected namespace announcement", "from", from, "err", err)
			return pubsub.ValidationReject
		}
		msg.ValidatorData = b
		return pubsub.ValidationAccept
	}
}

func (p *Push) checkAnnouncement(data []byte) (wire.Batch, error) {
	if len(data) > p.cfg.MaxMessageBytes {
		return wire.Batch{}, fmt.Errorf("%w: %d bytes", wire.ErrMalformed, len(data))
	}
	b, err := wire.Unmarshal(data)
	if err != nil {
		return b, err
	}
	if err := p.cfg.ValidNamespace(b.Namespace); err != nil {
		return b, fmt.Errorf("%w: announced namespace: %w", wire.ErrMalformed, err)
	}
	if len(b.Deltas) == 0 {
		return b, fmt.Errorf("%w: announcement of %q without a state", wire.ErrMalformed, b.Namespace)
	}
	return b, p.checkStates(b.Namespace, b)
}

// Peers returns the peers known to be subscribed to the namespace's topic.
func (p *Push) Peers(namespace string) []libp2ppeer.ID {
	return p.ps.ListPeers(TopicName(p.cfg.Network, namespace))
}

// Stats returns the traffic counters.
func (p *Push) Stats() PushStats {
	return PushStats{Published: p.published.Load(), Received: p.received.Load(), Rejected: p.rejected.Load(), Announced: p.announcedMsgs.Load(),
		Undelivered: p.drops.undelivered.Load(), Unsent: p.drops.unsent.Load()}
}

// Close leaves all topics and stops GossipSub. It is idempotent.
func (p *Push) Close() error {
	p.mu.Lock()
	if p.mu.closed {
		p.mu.Unlock()
		return nil
	}
	p.mu.closed = true
	topics, announce := p.mu.topics, p.mu.announce
	p.mu.Unlock()
	p.cancel()
	p.wg.Wait()
	for name, t := range topics {
		_ = p.ps.UnregisterTopicValidator(TopicName(p.cfg.Network, name))
		_ = t.Close()
	}
	if announce != nil {
		_ = p.ps.UnregisterTopicValidator(wire.NamespacesTopic(p.cfg.Network))
		_ = announce.Close()
	}
	return nil
}

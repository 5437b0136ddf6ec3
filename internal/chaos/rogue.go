package chaos

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/grapevine-kv/grapevine/api/apitype"
	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/internal/wire"
	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	libp2ppeer "github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	"github.com/multiformats/go-multiaddr"
)

// rogue is a hostile libp2p peer in the harness process, plus a client
// sending invalid API requests: everything it sends must be refused.
type rogue struct {
	cfg   Config
	hist  *History
	c     *Client
	peers []*Daemon
	rng   *rand.Rand
	h     host.Host
	ps    *pubsub.PubSub
	topic *pubsub.Topic
	stats BadInputStats
	seq   int
	tr    *trust
	// signed is the gossip topic of signedNS; mu guards stats and seq
	// against the sync handler (serveSync).
	signed *pubsub.Topic
	mu     sync.Mutex
	// growth of the peers' allowlist refusals and refused states.
	refusals, refusedStates *counterDeltas
	// last value of each peer's rejected-messages counter, to sum across
	// restarts (which reset it).
	lastRejected []float64
	cancel       context.CancelFunc
}

func newRogue(cfg Config, hist *History, c *Client, peers []*Daemon, tr *trust, ip string, rng *rand.Rand) (*rogue, error) {
	// An insider: it holds the swarm key and is on the allowlist, but on no
	// writer list.
	h, err := libp2p.New(
		libp2p.Identity(tr.rogue),
		libp2p.PrivateNetwork(tr.psk),
		libp2p.ListenAddrStrings(fmt.Sprintf("/ip4/%s/tcp/0", ip)),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.DisableRelay(),
	)
	if err != nil {
		return nil, fmt.Errorf("chaos: rogue host: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ps, err := pubsub.NewGossipSub(ctx, h,
		pubsub.WithMaxMessageSize(2*wire.MaxGossipMessage), // so it can send oversized messages
		pubsub.WithMessageSignaturePolicy(pubsub.StrictSign),
	)
	if err != nil {
		cancel()
		_ = h.Close()
		return nil, fmt.Errorf("chaos: rogue gossipsub: %w", err)
	}
	t, err := ps.Join(wire.Topic(cfg.Network, "default"))
	if err != nil {
		cancel()
		_ = h.Close()
		return nil, fmt.Errorf("chaos: rogue join: %w", err)
	}
	st, err := ps.Join(wire.Topic(cfg.Network, signedNS))
	if err != nil {
		cancel()
		_ = h.Close()
		return nil, fmt.Errorf("chaos: rogue join: %w", err)
	}
	r := &rogue{cfg: cfg, hist: hist, c: c, peers: peers, rng: rng, h: h, ps: ps, topic: t, signed: st, tr: tr,
		lastRejected: make([]float64, len(peers)), cancel: cancel,
		refusals: newCounterDeltas(len(peers)), refusedStates: newCounterDeltas(len(peers))}
	// Peers' anti-entropy rounds pick it as a partner now and then; it
	// answers with forged states (serveSync).
	h.SetStreamHandler(protocol.ID(wire.SyncProtocol(cfg.Network)), r.serveSync)
	return r, nil
}

// Close stops the rogue peer.
func (r *rogue) Close() error {
	_ = r.signed.Close()
	_ = r.topic.Close()
	r.cancel()
	return r.h.Close()
}

// run sends a round of bad input every 2–4 s until ctx is done.
func (r *rogue) run(ctx context.Context) {
	for ctx.Err() == nil {
		r.round(ctx)
		sleep(ctx, 2*time.Second+time.Duration(r.rng.Int64N(int64(2*time.Second))))
	}
	r.countRejections(context.WithoutCancel(ctx))
}

func (r *rogue) running() []*Daemon {
	var out []*Daemon
	for _, d := range r.peers {
		if d.Running() && !d.Paused() {
			out = append(out, d)
		}
	}
	return out
}

func (r *rogue) round(ctx context.Context) {
	live := r.running()
	if len(live) == 0 {
		return
	}
	for _, d := range live {
		if len(r.h.Network().ConnsToPeer(libp2ppeer.ID(d.ID()))) > 0 {
			continue
		}
		id, err := libp2ppeer.Decode(d.ID())
		if err != nil {
			continue
		}
		a, err := multiaddr.NewMultiaddr(fmt.Sprintf("/ip4/%s/tcp/%d", d.IP, d.Port))
		if err != nil {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_ = r.h.Connect(cctx, libp2ppeer.AddrInfo{ID: id, Addrs: []multiaddr.Multiaddr{a}})
		cancel()
	}
	if len(r.topic.ListPeers()) > 0 {
		for range 3 {
			r.gossip(ctx)
		}
	}
	if len(r.signed.ListPeers()) > 0 {
		for range 2 {
			r.forgedGossip(ctx)
		}
	}
	r.sync(ctx, live[r.rng.IntN(len(live))])
	for range 3 {
		r.api(ctx, live[r.rng.IntN(len(live))])
	}
	r.probes(ctx, live[r.rng.IntN(len(live))])
	r.countRejections(ctx)
}

// countRejections adds up the peers' gossip rejections since the last call.
func (r *rogue) countRejections(ctx context.Context) {
	for i, d := range r.peers {
		if !d.Running() || d.Paused() {
			continue
		}
		v, err := r.c.Metric(ctx, d.API(), "grapevine_gossip_messages_rejected_total")
		if err != nil {
			continue
		}
		if v < r.lastRejected[i] { // restarted: the counter began again
			r.lastRejected[i] = 0
		}
		r.mu.Lock()
		r.stats.GossipRejected += int(v - r.lastRejected[i])
		r.mu.Unlock()
		r.lastRejected[i] = v
		if m, err := r.c.MetricByLabel(ctx, d.API(), "grapevine_peer_refusals_total", "reason"); err == nil {
			r.refusals.observe(i, m)
		}
		if m, err := r.c.MetricByLabel(ctx, d.API(), "grapevine_refused_states_total", "reason"); err == nil {
			r.refusedStates.observe(i, m)
		}
	}
}

// Stats returns the counts so far.
func (r *rogue) Stats() BadInputStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stats
	s.Trust.AllowlistRefusals = r.refusals.totals()["allowlist"]
	s.Trust.RefusedStates = r.refusedStates.totals()
	return s
}

func (r *rogue) key(kind string) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	return fmt.Appendf(nil, "%s%s/%d", badKeyPrefix, kind, r.seq)
}

func (r *rogue) garbage(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.rng.UintN(256))
	}
	return b
}

func (r *rogue) register(future time.Duration, value []byte) crdt.Register {
	ts := crdt.NewTimestamp(time.Now().Add(future).UnixMilli(), 0)
	return crdt.Register{Time: ts, Origin: crdt.ReplicaID(r.h.ID()), Value: value}
}

// badGossip builds one malformed, oversized or far-future gossip message.
func (r *rogue) badGossip() (string, []byte) {
	ns := "default"
	far := 10 * time.Minute
	switch r.rng.IntN(8) {
	case 0:
		return "garbage", r.garbage(1 + r.rng.IntN(300))
	case 1:
		return "bad state", wire.AppendDelta(wire.AppendHeader(nil, ns), r.key("g"), r.garbage(1+r.rng.IntN(40)))
	case 2:
		b := wire.Batch{Namespace: "other", Deltas: []wire.Delta{{Key: r.key("g"), State: r.register(0, []byte("wrong namespace"))}}}
		return "namespace mismatch", b.Marshal()
	case 3:
		b := wire.Batch{Namespace: ns, Deltas: []wire.Delta{{Key: r.key("g"), State: r.register(far, []byte("from the future"))}}}
		return "far-future stamp", b.Marshal()
	case 4:
		key := append(r.key("g"), bytes.Repeat([]byte("x"), wire.MaxKeyLen)...)
		b := wire.Batch{Namespace: ns, Deltas: []wire.Delta{{Key: key, State: r.register(0, []byte("long key"))}}}
		return "oversized key", b.Marshal()
	case 5:
		b := wire.Batch{Namespace: ns, Deltas: []wire.Delta{{Key: r.key("g"), State: r.register(0, []byte("truncated"))}}}
		m := b.Marshal()
		return "truncated", m[:len(m)-3]
	case 6:
		if r.rng.IntN(4) == 0 {
			b := wire.Batch{Namespace: ns, Deltas: []wire.Delta{{Key: r.key("g"), State: r.register(far, bytes.Repeat([]byte("o"), wire.MaxGossipMessage))}}}
			return "oversized message", b.Marshal()
		}
		fallthrough
	default:
		return "no namespace", wire.AppendDelta(nil, r.key("g"), crdt.Encode(r.register(far, []byte("no namespace"))))
	}
}

func (r *rogue) gossip(ctx context.Context) {
	kind, msg := r.badGossip()
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := r.topic.Publish(pctx, msg); err != nil {
		r.hist.Event("rogue-gossip-error", fmt.Sprintf("%s: %v", kind, err))
		return
	}
	r.stats.GossipSent++
}

// badSync builds one malformed sync stream opening.
func (r *rogue) badSync() (string, []byte) {
	switch r.rng.IntN(6) {
	case 0:
		return "garbage frame", wire.AppendFrame(nil, wire.FrameKind(r.rng.UintN(256)), r.garbage(r.rng.IntN(300)))
	case 1:
		return "frame length 2^40", binary.AppendUvarint(nil, 1<<40)
	case 2:
		return "frame over the limit", wire.AppendFrameHeader(nil, wire.FrameHello, wire.MaxFrameSize)
	case 3:
		return "zero-length frame", binary.AppendUvarint(nil, 0)
	case 4:
		return "hello with a garbage payload", wire.AppendFrame(nil, wire.FrameHello, r.garbage(1+r.rng.IntN(64)))
	default:
		b := wire.Batch{Namespace: "default", Deltas: []wire.Delta{{Key: r.key("s"), State: r.register(10*time.Minute, []byte("sync from the future"))}}}
		return "far-future states before hello", wire.AppendFrame(nil, wire.FrameStates, b.Marshal())
	}
}

// sync opens a sync stream, sends a malformed opening, and waits for the
// peer to give up on it.
func (r *rogue) sync(ctx context.Context, d *Daemon) {
	id, err := libp2ppeer.Decode(d.ID())
	if err != nil {
		return
	}
	sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	s, err := r.h.NewStream(sctx, id, protocol.ID(wire.SyncProtocol(r.cfg.Network)))
	if err != nil {
		r.hist.Event("rogue-sync-error", err.Error(), d.Index)
		return
	}
	kind, msg := r.badSync()
	r.stats.SyncSent++
	_ = s.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := s.Write(msg); err != nil {
		r.stats.SyncRejected++ // refused before the whole opening went out
		_ = s.Reset()
		return
	}
	_, err = io.Copy(io.Discard, s)
	var te interface{ Timeout() bool }
	if errors.As(err, &te) && te.Timeout() {
		r.stats.SyncHung++
		r.hist.Event("rogue-sync-hung", kind, d.Index)
	} else {
		r.stats.SyncRejected++
	}
	_ = s.Reset()
}

// api sends one invalid API request.
func (r *rogue) api(ctx context.Context, d *Daemon) {
	kv := "/v1/kv/" + url.PathEscape(string(r.key("a")))
	ctr := "/v1/counter/" + url.PathEscape(badKeyPrefix+"ctr")
	method, path, q, body := http.MethodPut, kv, url.Values(nil), []byte("bad")
	switch r.rng.IntN(10) {
	case 0:
		body = bytes.Repeat([]byte("v"), r.cfg.MaxValueSize+1) // over the daemons' --max-value-size
	case 1:
		path = kv + url.PathEscape("\x01")
	case 2:
		path = kv + strings.Repeat("k", apitype.MaxKeyLen)
	case 3:
		q = url.Values{"ns": {"Not A Namespace!"}}
	case 4:
		method, path, q, body = http.MethodPost, ctr, url.Values{"by": {"abc"}}, nil
	case 5:
		method, path, q, body = http.MethodPost, ctr, url.Values{"by": {"99999999999999999999"}}, nil
	case 6:
		method, path, q, body = http.MethodGet, "/v1/kv", url.Values{"limit": {"0"}}, nil
	case 7:
		method = http.MethodPatch
	case 8:
		path = "/v1/kv/" + url.PathEscape(badKeyPrefix) + "%FF%FE"
	default:
		path = "/v1/kv/"
	}
	r.stats.APISent++
	_, err := r.c.raw(ctx, method, d.API(), path, q, body)
	var ae *apitype.Error
	switch {
	case err == nil:
		r.stats.APIAccepted++
		r.hist.Event("rogue-api-accepted", fmt.Sprintf("%s %s?%s answered 2xx", method, path, q.Encode()), d.Index)
	case errors.As(err, &ae) && ae.Status >= 500:
		r.stats.APIServerErrors++
		r.hist.Event("rogue-api-error", fmt.Sprintf("%s %s?%s: %v", method, path, q.Encode(), err), d.Index)
	case errors.As(err, &ae): // 4xx, not_found included
		r.stats.APIRejected++
	default:
		r.stats.APIUnreachable++
	}
}

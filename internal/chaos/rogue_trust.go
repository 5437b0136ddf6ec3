package chaos

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/internal/wire"
	"github.com/libp2p/go-libp2p"
	ic "github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	libp2ppeer "github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/pnet"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	"github.com/multiformats/go-multiaddr"
	"google.golang.org/protobuf/encoding/protowire"
)

// forged returns one state in signedNS that every peer must refuse, under
// a fresh bad/ key: a trusted writer's origin unsigned, with a bad
// signature, with a writer's real signature moved from other content, or
// with the rogue's key; or validly signed by a peer or the rogue that is
// not a writer (an unauthorised namespace).
func (r *rogue) forged() (string, wire.Delta) {
	var writer, nonWriter []int
	for i, w := range r.tr.writers {
		if w {
			writer = append(writer, i)
		} else {
			nonWriter = append(nonWriter, i)
		}
	}
	wi := writer[r.rng.IntN(len(writer))]
	wid := r.tr.origin(wi)
	rid := crdt.ReplicaID(r.h.ID())
	now := crdt.NewTimestamp(time.Now().UnixMilli(), 0)
	sign := func(k ic.PrivKey, key []byte, reg crdt.Register) crdt.Register {
		sig, err := k.Sign(crdt.AppendRegisterPayload(nil, signedNS, key, reg))
		if err == nil {
			reg.Sig = sig
		}
		return reg
	}
	var kind string
	var reg crdt.Register
	var key []byte
	switch n := r.rng.IntN(6); {
	case n == 0:
		kind = "unsigned"
		key = r.key("forged-" + kind)
		reg = crdt.Register{Time: now, Origin: wid, Value: []byte("no signature")}
	case n == 1:
		kind = "garbage-sig"
		key = r.key("forged-" + kind)
		reg = crdt.Register{Time: now, Origin: wid, Value: []byte("garbage signature"), Sig: r.garbage(64)}
	case n == 2:
		kind = "moved-sig"
		key = r.key("forged-" + kind)
		// A writer's real signature, of another key and value.
		real := sign(r.tr.keys[wi], []byte(signedKeyPrefix+"0"), crdt.Register{Time: now, Origin: wid, Value: []byte("signed by the writer")})
		reg = crdt.Register{Time: now, Origin: wid, Value: []byte("moved signature"), Sig: real.Sig}
	case n == 3:
		kind = "rogue-sig-writer-origin"
		key = r.key("forged-" + kind)
		reg = sign(r.tr.rogue, key, crdt.Register{Time: now, Origin: wid, Value: []byte("signed by the rogue as a writer")})
	case n == 4 && len(nonWriter) > 0:
		kind = "non-writer-peer"
		key = r.key("forged-" + kind)
		ni := nonWriter[r.rng.IntN(len(nonWriter))]
		reg = sign(r.tr.keys[ni], key, crdt.Register{Time: now, Origin: r.tr.origin(ni), Value: []byte("signed by a non-writer peer")})
	default:
		kind = "unauthorised"
		key = r.key("forged-" + kind)
		reg = sign(r.tr.rogue, key, crdt.Register{Time: now, Origin: rid, Value: []byte("signed by the rogue, its own origin")})
	}
	return kind, wire.Delta{Key: key, State: reg}
}

// forgedGossip publishes one forged state on signedNS's topic.
func (r *rogue) forgedGossip(ctx context.Context) {
	kind, d := r.forged()
	msg := wire.Batch{Namespace: signedNS, Deltas: []wire.Delta{d}}.Marshal()
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := r.signed.Publish(pctx, msg); err != nil {
		r.hist.Event("rogue-forged-gossip-error", fmt.Sprintf("%s: %v", kind, err))
		return
	}
	r.mu.Lock()
	r.stats.Trust.ForgedGossip++
	r.mu.Unlock()
}

// serveSync answers a peer's anti-entropy round as a well-behaved
// responder of the network's sync protocol, except that in signedNS it
// asks for everything and sends forged states back: hello, then per
// namespace (the sorted union of both hellos) the peer's first reconcile
// message is answered with "stream both" (signedNS) or "equal" (others),
// the peer's states are read to the end frame, and the rogue's sent,
// followed by an end frame.
func (r *rogue) serveSync(s network.Stream) {
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(15 * time.Second))
	br := bufio.NewReader(s)
	var buf []byte
	read := func(want wire.FrameKind) ([]byte, error) {
		f, err := wire.ReadFrame(br, buf)
		if err != nil {
			return nil, err
		}
		if f.Kind != want {
			return nil, fmt.Errorf("got frame kind %d, want %d", f.Kind, want)
		}
		return f.Payload, nil
	}
	fail := func(err error) {
		r.hist.Event("rogue-serve-sync-error", err.Error())
		_ = s.Reset()
	}
	p, err := read(wire.FrameHello)
	if err != nil {
		fail(err)
		return
	}
	theirs, err := wire.UnmarshalHello(p)
	if err != nil {
		fail(err)
		return
	}
	if _, err := s.Write(wire.AppendFrame(nil, wire.FrameHello, wire.AppendHello(nil, []string{signedNS}))); err != nil {
		fail(err)
		return
	}
	all := append(slices.Clone(theirs), signedNS)
	slices.Sort(all)
	for _, ns := range slices.Compact(all) {
		p, err := read(wire.FrameReconcile)
		if err != nil {
			fail(fmt.Errorf("%s: %w", ns, err))
			return
		}
		count, err := rootCount(p)
		if err != nil {
			fail(fmt.Errorf("%s: %w", ns, err))
			return
		}
		var deltas []wire.Delta
		var kinds []string
		if ns == signedNS {
			for range 3 {
				k, d := r.forged()
				kinds, deltas = append(kinds, k), append(deltas, d)
			}
		}
		if _, err := s.Write(wire.AppendFrame(nil, wire.FrameReconcile, answerRoot(count, len(deltas)))); err != nil {
			fail(err)
			return
		}
		for { // the peer's states, to its end frame
			f, err := wire.ReadFrame(br, buf)
			if err != nil {
				fail(fmt.Errorf("%s: %w", ns, err))
				return
			}
			if f.Kind == wire.FrameEnd {
				break
			}
			if f.Kind != wire.FrameStates {
				fail(fmt.Errorf("%s: got frame kind %d while receiving states", ns, f.Kind))
				return
			}
		}
		var out []byte
		if len(deltas) > 0 {
			out = wire.AppendFrame(out, wire.FrameStates, wire.Batch{Namespace: ns, Deltas: deltas}.Marshal())
		}
		if _, err := s.Write(wire.AppendFrame(out, wire.FrameEnd, nil)); err != nil {
			fail(err)
			return
		}
		if len(deltas) > 0 {
			r.mu.Lock()
			r.stats.Trust.ForgedSync += len(deltas)
			r.mu.Unlock()
			r.hist.Event("rogue-forged-sync", fmt.Sprintf("%v to %s", kinds, s.Conn().RemotePeer()))
		}
	}
}

// rootCount reads the item count of the root summary of an initiator's
// first reconcile message (protobuf: field 2, a Summary whose field 1 is
// the count).
func rootCount(b []byte) (uint64, error) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, errors.New("malformed reconcile message")
		}
		b = b[n:]
		if num == 2 && typ == protowire.BytesType {
			sum, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return 0, errors.New("malformed root summary")
			}
			for len(sum) > 0 {
				num, typ, m := protowire.ConsumeTag(sum)
				if m < 0 {
					return 0, errors.New("malformed root summary")
				}
				sum = sum[m:]
				if num == 1 && typ == protowire.VarintType {
					v, _ := protowire.ConsumeVarint(sum)
					return v, nil
				}
				m = protowire.ConsumeFieldValue(num, typ, sum)
				if m < 0 {
					return 0, errors.New("malformed root summary")
				}
				sum = sum[m:]
			}
			return 0, nil
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return 0, errors.New("malformed reconcile message")
		}
		b = b[n:]
	}
	return 0, errors.New("no root summary")
}

// answerRoot answers the root question: with nothing to send, "equal"
// (acknowledged without a response); else "stream both" when the peer
// holds items (Count = mine), "streaming" when it holds none.
func answerRoot(theirCount uint64, mine int) []byte {
	b := protowire.AppendTag(nil, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, 1) // ack the root question
	if mine == 0 {
		return b
	}
	kind := protowire.Number(7) // stream_both
	if theirCount == 0 {
		kind = 6 // streaming
	}
	var resp []byte
	resp = protowire.AppendTag(resp, 1, protowire.VarintType)
	resp = protowire.AppendVarint(resp, 0) // skip
	resp = protowire.AppendTag(resp, kind, protowire.VarintType)
	resp = protowire.AppendVarint(resp, uint64(mine))
	b = protowire.AppendTag(b, 3, protowire.BytesType)
	return protowire.AppendBytes(b, resp)
}

// probes tries, against peer d, each kind of connection the setup must
// refuse: an insider on another network, no swarm key, another swarm key,
// and an ID not on the allowlist.
func (r *rogue) probes(ctx context.Context, d *Daemon) {
	other := r.cfg.Network + "-other"
	wrongPSK := make([]byte, 32)
	_, _ = rand.Read(wrongPSK)
	stranger, _, _ := ic.GenerateEd25519Key(rand.Reader)
	for _, p := range []struct {
		probe *Probe
		opts  []libp2p.Option
		proto []string // protocols it serves (another network's)
	}{
		{&r.stats.Trust.WrongNetwork, []libp2p.Option{libp2p.Identity(r.tr.outsider), libp2p.PrivateNetwork(r.tr.psk)},
			[]string{wire.SyncProtocol(other), wire.ProtocolPrefix(other) + "/kad/1.0.0"}},
		{&r.stats.Trust.NoKey, nil, nil},
		{&r.stats.Trust.WrongKey, []libp2p.Option{libp2p.PrivateNetwork(pnet.PSK(wrongPSK))}, nil},
		{&r.stats.Trust.NotAllowlisted, []libp2p.Option{libp2p.Identity(stranger), libp2p.PrivateNetwork(r.tr.psk)}, nil},
	} {
		accepted, err := r.probe(ctx, d, p.opts, p.proto)
		if err != nil {
			r.hist.Event("rogue-probe-error", err.Error(), d.Index)
			continue
		}
		r.mu.Lock()
		p.probe.Sent++
		if accepted {
			p.probe.Accepted++
		} else {
			p.probe.Refused++
		}
		r.mu.Unlock()
		if accepted {
			r.hist.Event("rogue-probe-accepted", fmt.Sprintf("%v", p.proto), d.Index)
		}
	}
}

// probe dials d from a fresh host built with opts (serving protos) and
// reports whether the connection still stands 5 s later; err is for a
// host that could not be built (nothing sent).
func (r *rogue) probe(ctx context.Context, d *Daemon, opts []libp2p.Option, protos []string) (accepted bool, err error) {
	h, err := libp2p.New(append([]libp2p.Option{libp2p.NoListenAddrs, libp2p.Transport(tcp.NewTCPTransport), libp2p.DisableRelay()}, opts...)...)
	if err != nil {
		return false, fmt.Errorf("probe host: %w", err)
	}
	defer h.Close()
	for _, p := range protos {
		h.SetStreamHandler(protocol.ID(p), func(s network.Stream) { _ = s.Reset() })
	}
	id, err := libp2ppeer.Decode(d.ID())
	if err != nil {
		return false, err
	}
	a, err := multiaddr.NewMultiaddr(fmt.Sprintf("/ip4/%s/tcp/%d", d.IP, d.Port))
	if err != nil {
		return false, err
	}
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := h.Connect(cctx, libp2ppeer.AddrInfo{ID: id, Addrs: []multiaddr.Multiaddr{a}}); err != nil {
		return false, nil // refused: handshake failed, or the gater said no
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if h.Network().Connectedness(id) != network.Connected {
			return false, nil // the peer closed it (another network)
		}
		sleep(ctx, 100*time.Millisecond)
	}
	if d.Paused() || !d.Running() || ctx.Err() != nil {
		return false, fmt.Errorf("probe of %s: paused or stopped while it should have closed the connection; not counted", d.Name())
	}
	return h.Network().Connectedness(id) == network.Connected, nil
}

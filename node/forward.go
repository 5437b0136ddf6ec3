package node

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/internal/wire"
	libp2ppeer "github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// Forwarding. Every request of a door for a namespace this peer does not
// replicate — Get, Put and Delete (with their conditions and TTL: the
// holder evaluates them against its state), List, Types, Incr, Counter,
// ResetCounter, the set operations and Txn — goes over
// wire.ForwardProtocol to a holder found in the DHT (cached for
// holderCacheTTL; on failure the next one, then a fresh lookup), which
// applies it through its own node path and answers; ErrNoHolder when none
// answers. TrackServedBy (and Value.ServedBy) name the holder. The holder
// refuses forwarded writes into a namespace with a writer list
// (ErrForbidden): such a write would be signed by the holder, not by the
// peer that asked.
//
// Watch and WatchSince are not forwarded: they fail with ErrNoHolder
// naming holders to watch directly. A watch's change indexes are its
// serving peer's own (WatchSince resumes from them), so a stream relayed
// through this peer could not fail over to another holder and resume
// without a gap; on a holder it keeps that promise.

// Timing of forwarding.
const (
	holderCacheTTL = time.Minute      // holders found are reused this long
	forwardTimeout = 10 * time.Second // one attempt with one holder
)

// forwarder sends requests for namespaces held elsewhere.
type forwarder struct {
	n     *Node
	proto protocol.ID

	mu struct {
		sync.Mutex
		holders   map[string]holderEntry // namespace → holders found
		forwarded map[string]bool        // namespaces forwarded since start
	}
}

type holderEntry struct {
	ids   []libp2ppeer.ID
	found time.Time
}

func newForwarder(n *Node) *forwarder {
	f := &forwarder{n: n, proto: protocol.ID(wire.ForwardProtocol(n.cfg.Network))}
	f.mu.holders = make(map[string]holderEntry)
	f.mu.forwarded = make(map[string]bool)
	return f
}

// servedByKey is the context key of TrackServedBy's record.
type servedByKey struct{}

// TrackServedBy returns a context that records which peer answers the
// request made with it, and a function that returns that peer's ID: the
// holder a forwarded request went to, or this peer's own ID. Every door
// (HTTP, RESP, gRPC) reports it to its client.
func (n *Node) TrackServedBy(ctx context.Context) (context.Context, func() string) {
	rec := new(string)
	return context.WithValue(ctx, servedByKey{}, rec), func() string {
		if *rec == "" {
			return n.selfName
		}
		return *rec
	}
}

func recordServedBy(ctx context.Context, id libp2ppeer.ID) {
	if rec, ok := ctx.Value(servedByKey{}).(*string); ok {
		*rec = id.String()
	}
}

// forwardRequest sends req to a holder of its namespace and returns the answer,
// recording the holder in ctx (TrackServedBy). Its error is a node
// sentinel: the holder's, or ErrNoHolder.
func (n *Node) forwardRequest(ctx context.Context, req wire.ForwardRequest) (wire.ForwardResponse, libp2ppeer.ID, error) {
	f := n.fwd
	f.mu.Lock()
	f.mu.forwarded[req.Namespace] = true
	f.mu.Unlock()
	tried := make(map[libp2ppeer.ID]bool)
	var last error
	for fresh := range 2 {
		for _, id := range f.candidates(ctx, req.Namespace, fresh == 1) {
			if tried[id] {
				continue
			}
			tried[id] = true
			resp, err := f.ask(ctx, id, req)
			if err == nil && resp.Status != 0 {
				err = forwardErr(resp)
				if !errors.Is(err, ErrNoHolder) {
					recordServedBy(ctx, id)
					return resp, id, err
				}
			}
			if err == nil {
				recordServedBy(ctx, id)
				return resp, id, nil
			}
			last = err
			f.drop(req.Namespace, id)
			if ctx.Err() != nil {
				return wire.ForwardResponse{}, "", fmt.Errorf("%w: %w", ErrCanceled, ctx.Err())
			}
		}
	}
	if last != nil {
		return wire.ForwardResponse{}, "", fmt.Errorf("%w: namespace %q is not replicated here, and no holder answered: %w", ErrNoHolder, req.Namespace, last)
	}
	return wire.ForwardResponse{}, "", fmt.Errorf("%w: namespace %q is not replicated here, and the DHT knows no peer holding it", ErrNoHolder, req.Namespace)
}

// candidates returns the cached holders of ns, or (fresh, or none cached)
// looks them up in the DHT.
func (f *forwarder) candidates(ctx context.Context, ns string, fresh bool) []libp2ppeer.ID {
	f.mu.Lock()
	e, ok := f.mu.holders[ns]
	f.mu.Unlock()
	if ok && !fresh && len(e.ids) > 0 && time.Since(e.found) < holderCacheTTL {
		return e.ids
	}
	lctx, cancel := context.WithTimeout(ctx, holderLookupTimeout)
	defer cancel()
	infos := f.n.peer.FindHolders(lctx, ns, maxHolders)
	ids := make([]libp2ppeer.ID, 0, len(infos))
	for _, info := range infos {
		f.n.peer.Host().Peerstore().AddAddrs(info.ID, info.Addrs, peerstore.TempAddrTTL)
		ids = append(ids, info.ID)
	}
	f.mu.Lock()
	f.mu.holders[ns] = holderEntry{ids: ids, found: time.Now()}
	f.mu.Unlock()
	return ids
}

// drop forgets id as a holder of ns.
func (f *forwarder) drop(ns string, id libp2ppeer.ID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.mu.holders[ns]
	e.ids = slices.DeleteFunc(slices.Clone(e.ids), func(x libp2ppeer.ID) bool { return x == id })
	f.mu.holders[ns] = e
}

// forwarded returns the namespaces this peer has forwarded requests for.
func (f *forwarder) forwarded() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, 0, len(f.mu.forwarded))
	for ns := range f.mu.forwarded {
		out = append(out, ns)
	}
	slices.Sort(out)
	return out
}

// ask sends req to id on one stream and reads the answer.
func (f *forwarder) ask(ctx context.Context, id libp2ppeer.ID, req wire.ForwardRequest) (wire.ForwardResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, forwardTimeout)
	defer cancel()
	s, err := f.n.peer.Host().NewStream(ctx, id, f.proto)
	if err != nil {
		return wire.ForwardResponse{}, err
	}
	defer func() { _ = s.Close() }()
	stop := context.AfterFunc(ctx, func() { _ = s.Reset() })
	defer stop()
	if _, err := s.Write(wire.AppendFrame(nil, wire.FrameForwardRequest, req.Marshal())); err != nil {
		return wire.ForwardResponse{}, err
	}
	if err := s.CloseWrite(); err != nil {
		return wire.ForwardResponse{}, err
	}
	fr, err := wire.ReadFrame(bufio.NewReader(s), nil)
	if err != nil {
		return wire.ForwardResponse{}, err
	}
	if fr.Kind != wire.FrameForwardResponse {
		return wire.ForwardResponse{}, fmt.Errorf("%w: forward answer of frame kind %d", wire.ErrMalformed, fr.Kind)
	}
	return wire.UnmarshalForwardResponse(fr.Payload)
}

// remoteError turns a holder's error text back into the node sentinel it
// starts with (every node error does), keeping the text.
func remoteError(text string) error {
	for _, s := range Errors {
		if strings.HasPrefix(text, s.Error()) {
			return fmt.Errorf("%w (from the holder): %s", s, strings.TrimPrefix(strings.TrimPrefix(text, s.Error()), ": "))
		}
	}
	return fmt.Errorf("%w: the holder answered: %s", ErrStorage, text)
}

// valueOfResponse is the Value of a forwarded Get's answer.
func valueOfResponse(r wire.ForwardResponse, by libp2ppeer.ID) Value {
	v := Value{Data: r.Value, Version: crdt.Timestamp(r.Version), Origin: crdt.ReplicaID(r.Origin), ServedBy: by.String()}
	if r.ExpiresMillis != 0 {
		v.Expires = time.UnixMilli(r.ExpiresMillis)
	}
	return v
}

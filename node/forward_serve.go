package node

import (
	"bufio"
	"context"
	"fmt"
	"time"

	"github.com/grapevine-kv/grapevine/internal/wire"
	"github.com/libp2p/go-libp2p/core/network"
)

// forwardServeTimeout bounds serving one forwarded request.
const forwardServeTimeout = 30 * time.Second

// serveForward answers forwarded requests (see forward.go) until Close.
func (n *Node) serveForward() {
	n.peer.Host().SetStreamHandler(n.fwd.proto, n.handleForward)
}

// handleForward reads one request, applies it through the node's own path
// and writes the answer.
func (n *Node) handleForward(s network.Stream) {
	defer func() { _ = s.Close() }()
	_ = s.SetDeadline(time.Now().Add(forwardServeTimeout))
	fr, err := wire.ReadFrame(bufio.NewReader(s), nil)
	if err != nil || fr.Kind != wire.FrameForwardRequest {
		_ = s.Reset()
		return
	}
	req, err := wire.UnmarshalForwardRequest(fr.Payload)
	if err != nil {
		_ = s.Reset()
		return
	}
	ctx, cancel := context.WithTimeout(n.ctx, forwardServeTimeout)
	defer cancel()
	resp := n.serve(ctx, req)
	_, _ = s.Write(wire.AppendFrame(nil, wire.FrameForwardResponse, resp.Marshal()))
}

// serve applies a forwarded request; a namespace this peer does not
// replicate is refused (ErrNoHolder: the asker tries another holder), so
// a request is never forwarded twice.
func (n *Node) serve(ctx context.Context, req wire.ForwardRequest) wire.ForwardResponse {
	var resp wire.ForwardResponse
	fail := func(err error) wire.ForwardResponse {
		return wire.ForwardResponse{Status: 1, Error: err.Error()}
	}
	if !n.replicates(req.Namespace) {
		return fail(fmt.Errorf("%w: peer %s does not replicate namespace %q", ErrNoHolder, n.self, req.Namespace))
	}
	write := req.Op == wire.ForwardPut || req.Op == wire.ForwardDelete || req.Op == wire.ForwardIncr
	if _, signed := n.writers[req.Namespace]; write && signed {
		return fail(fmt.Errorf("%w: namespace %q has a writer list; a forwarded write would be signed by the holder, so it is refused: write it on a peer on the list", ErrForbidden, req.Namespace))
	}
	switch req.Op {
	case wire.ForwardGet:
		v, err := n.Get(ctx, req.Namespace, req.Key)
		if err != nil {
			return fail(err)
		}
		resp.Value, resp.Version, resp.Origin = v.Data, uint64(v.Version), string(v.Origin)
		if !v.Expires.IsZero() {
			resp.ExpiresMillis = v.Expires.UnixMilli()
		}
	case wire.ForwardPut:
		ts, err := n.Put(ctx, req.Namespace, req.Key, req.Value)
		if err != nil {
			return fail(err)
		}
		resp.Version = uint64(ts)
	case wire.ForwardDelete:
		if err := n.Delete(ctx, req.Namespace, req.Key); err != nil {
			return fail(err)
		}
	case wire.ForwardIncr:
		c, err := n.Incr(ctx, req.Namespace, req.Key, req.By)
		if err != nil {
			return fail(err)
		}
		resp.Counter = c
	case wire.ForwardCounter:
		c, err := n.Counter(ctx, req.Namespace, req.Key)
		if err != nil {
			return fail(err)
		}
		resp.Counter = c
	}
	return resp
}

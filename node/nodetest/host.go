package nodetest

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/grapevine-kv/grapevine/node"
	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	libp2ppeer "github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	basicconnmgr "github.com/libp2p/go-libp2p/p2p/net/connmgr"
)

// A Cluster's hosts are mocknet hosts with two additions. A connection
// manager, as a real daemon's host has (peer.New): go-libp2p's
// BasicConnMgr with the node's LowWater and HighWater, which tags and
// trims connections the same way, so that a node keeps a bounded number
// of connections however many peers the DHT makes it meet (mocknet builds
// its hosts without one and takes none, so the host is wrapped:
// ConnManager returns the manager, which watches the host's network). And
// a partition no stream crosses: mocknet lets a stream outlive the
// connection Partition closed, or open on it, so the host refuses to open
// a stream across the cut in force, resets one arriving from across it,
// and every stream it hands out stops carrying data once a cut separates
// its ends.

// Timing of the test hosts' connection managers: a connection is safe
// from trimming for connGrace after it opens unless the cluster sets
// another (ConnGrace; the daemon's is go-libp2p's default, a minute:
// longer than most tests), and the manager checks the count every
// connSilence.
const (
	connGrace   = 20 * time.Second
	connSilence = time.Second
)

// errCut is what opening a stream across a partition returns.
var errCut = errors.New("nodetest: the peers are on two sides of a partition")

// testHost is a Cluster's host.
type testHost struct {
	host.Host
	cm        *basicconnmgr.BasicConnMgr
	across    func(a, b libp2ppeer.ID) bool // whether a partition separates a and b
	closeOnce sync.Once
	closeErr  error
}

// ConnManager returns the host's connection manager.
func (h *testHost) ConnManager() connmgr.ConnManager { return h.cm }

// NewStream opens a stream to p unless a partition separates them.
func (h *testHost) NewStream(ctx context.Context, p libp2ppeer.ID, pids ...protocol.ID) (network.Stream, error) {
	if h.across(h.ID(), p) {
		return nil, errCut
	}
	s, err := h.Host.NewStream(ctx, p, pids...)
	if err != nil {
		return nil, err
	}
	return &cutStream{Stream: s, across: h.across}, nil
}

// SetStreamHandler sets handler for pid, which never sees a stream from
// across a partition.
func (h *testHost) SetStreamHandler(pid protocol.ID, handler network.StreamHandler) {
	h.Host.SetStreamHandler(pid, h.guard(handler))
}

// SetStreamHandlerMatch is SetStreamHandler with a protocol matcher.
func (h *testHost) SetStreamHandlerMatch(pid protocol.ID, m func(protocol.ID) bool, handler network.StreamHandler) {
	h.Host.SetStreamHandlerMatch(pid, m, h.guard(handler))
}

// guard wraps handler to reset a stream from across a partition.
func (h *testHost) guard(handler network.StreamHandler) network.StreamHandler {
	return func(s network.Stream) {
		if h.across(h.ID(), s.Conn().RemotePeer()) {
			_ = s.Reset()
			return
		}
		handler(&cutStream{Stream: s, across: h.across})
	}
}

// cutStream is a stream that stops carrying data, in both directions, when
// a partition comes between its ends: mocknet lets a stream outlive the
// connection Partition closed under it.
type cutStream struct {
	network.Stream
	across func(a, b libp2ppeer.ID) bool
}

// cut resets the stream if a partition separates its ends.
func (s *cutStream) cut() bool {
	if !s.across(s.Conn().LocalPeer(), s.Conn().RemotePeer()) {
		return false
	}
	_ = s.Stream.Reset()
	return true
}

// Read reads from the stream unless a partition separates its ends.
func (s *cutStream) Read(b []byte) (int, error) {
	if s.cut() {
		return 0, errCut
	}
	n, err := s.Stream.Read(b)
	if s.cut() {
		return 0, errCut
	}
	return n, err
}

// Write writes to the stream unless a partition separates its ends.
func (s *cutStream) Write(b []byte) (int, error) {
	if s.cut() {
		return 0, errCut
	}
	return s.Stream.Write(b)
}

// Close closes the host and its connection manager; it is idempotent.
func (h *testHost) Close() error {
	h.closeOnce.Do(func() {
		h.closeErr = h.Host.Close()
		if err := h.cm.Close(); h.closeErr == nil {
			h.closeErr = err
		}
	})
	return h.closeErr
}

// wrap makes mocknet host h a Cluster host with cfg's watermarks, closed
// at the test's cleanup (before the mocknet), and returns it.
func (c *Cluster) wrap(h host.Host, cfg node.Config) host.Host {
	c.tb.Helper()
	cm, err := basicconnmgr.NewConnManager(cfg.Peer.LowWater, cfg.Peer.HighWater,
		basicconnmgr.WithGracePeriod(c.grace), basicconnmgr.WithSilencePeriod(connSilence))
	if err != nil {
		c.tb.Fatalf("nodetest: connection manager %d/%d: %v", cfg.Peer.LowWater, cfg.Peer.HighWater, err)
	}
	h.Network().Notify(cm.Notifee())
	c.enforceCut(h)
	t := &testHost{Host: h, cm: cm, across: c.across}
	c.tb.Cleanup(func() { _ = t.Close() })
	return t
}

// across reports whether the partition in force separates peers a and b.
// It is called on libp2p's goroutines.
func (c *Cluster) across(a, b libp2ppeer.ID) bool {
	cut := c.cut.Load()
	if cut == nil {
		return false
	}
	sa, okA := (*cut)[a]
	sb, okB := (*cut)[b]
	return okA && okB && sa != sb
}

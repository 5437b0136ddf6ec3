// Package nodetest starts grapevine nodes for other packages' tests, in the
// spirit of net/http/httptest: in memory, without fsync, each on its own
// libp2p mocknet host, with mDNS off and logs discarded.
package nodetest

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/grapevine-kv/grapevine/node"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
)

// Config returns a node configuration for a test: in-memory storage, no
// fsync, a fresh mocknet host (closed at cleanup), no mDNS, no listen
// addresses and a discarding logger. Adjust it, then call Start.
func Config(tb testing.TB) node.Config {
	tb.Helper()
	mn := mocknet.New()
	tb.Cleanup(func() { _ = mn.Close() })
	h, err := mn.GenPeer()
	if err != nil {
		tb.Fatal(err)
	}
	cfg := node.DefaultConfig()
	cfg.Storage.InMemory, cfg.DataDir, cfg.Storage.SyncWrites, cfg.Host = true, tb.TempDir(), false, h
	cfg.Peer.MDNS, cfg.Peer.ListenAddrs = false, nil
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return cfg
}

// Start builds and starts a node from cfg; it is closed at cleanup.
func Start(tb testing.TB, cfg node.Config) *node.Node {
	tb.Helper()
	n, err := node.New(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = n.Close() })
	if err := n.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return n
}

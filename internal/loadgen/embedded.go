package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/grapevine-kv/grapevine/node"
)

// NodeTarget drives a node in this process through its Go API: the cost of
// the node alone, without a door.
type NodeTarget struct {
	// Node is the node written and read.
	Node *node.Node
	// Namespace of the keys; "" for the default.
	Namespace string
}

// Put is node.Put.
func (t NodeTarget) Put(ctx context.Context, key, value []byte) error {
	_, err := t.Node.Put(ctx, t.Namespace, key, value)
	return err
}

// Get is node.Get; node.ErrNotFound is found == false.
func (t NodeTarget) Get(ctx context.Context, key []byte) (bool, error) {
	_, err := t.Node.Get(ctx, t.Namespace, key)
	if errors.Is(err, node.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// NodeConfig returns the configuration of an embedded benchmark peer: the
// node's defaults (fsync on, unless inMemory) with its data in dataDir,
// listening on a free TCP port of 127.0.0.1 only, no mDNS, logs discarded.
func NodeConfig(dataDir string, inMemory bool) node.Config {
	cfg := node.DefaultConfig()
	cfg.DataDir = dataDir
	cfg.Storage.InMemory = inMemory
	cfg.Peer.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0"}
	cfg.Peer.MDNS = false
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return cfg
}

// StartNode builds and starts a node from cfg. The caller closes it.
func StartNode(ctx context.Context, cfg node.Config) (*node.Node, error) {
	n, err := node.New(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("loadgen: start a node in %s: %w", cfg.DataDir, err)
	}
	if err := n.Start(ctx); err != nil {
		_ = n.Close()
		return nil, fmt.Errorf("loadgen: start a node in %s: %w", cfg.DataDir, err)
	}
	return n, nil
}

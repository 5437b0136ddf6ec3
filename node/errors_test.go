package node_test

import (
	"context"
	"errors"
	"testing"

	"github.com/grapevine-kv/grapevine/node"
	"github.com/grapevine-kv/grapevine/node/nodetest"
)

// TestEveryMethodAfterClose: once Close returns, every method that can fail
// returns node.ErrClosed, whatever layer noticed (storage, gossip, peer).
func TestEveryMethodAfterClose(t *testing.T) {
	n := nodetest.Start(t, nodetest.Config(t))
	ctx := context.Background()
	if _, err := n.Put(ctx, "", []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	calls := map[string]func() error{
		"Put":     func() error { _, err := n.Put(ctx, "", []byte("k"), []byte("v")); return err },
		"Get":     func() error { _, err := n.Get(ctx, "", []byte("k")); return err },
		"Delete":  func() error { return n.Delete(ctx, "", []byte("k")) },
		"List":    func() error { _, err := n.List(ctx, "", node.ListOptions{}); return err },
		"Incr":    func() error { _, err := n.Incr(ctx, "", []byte("c"), 1); return err },
		"Counter": func() error { _, err := n.Counter(ctx, "", []byte("c")); return err },
		"Watch":   func() error { _, err := n.Watch(ctx, "", nil); return err },
		"Sync":    func() error { _, err := n.Sync(ctx); return err },
		"SyncWith": func() error {
			_, err := n.SyncWith(ctx, n.Peer().ID())
			return err
		},
		"Start": func() error { return n.Start(ctx) },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, node.ErrClosed) {
			t.Errorf("%s after Close: got %v, want node.ErrClosed", name, err)
		}
	}
	if err := n.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestErrorsAreNodeSentinels: bad input and failures below node come back
// as node's own sentinels.
func TestErrorsAreNodeSentinels(t *testing.T) {
	cfg := nodetest.Config(t)
	cfg.MaxValueSize = 8
	n := nodetest.Start(t, cfg)
	ctx := context.Background()
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"empty key", func() error { _, err := n.Put(ctx, "", nil, []byte("v")); return err }(), node.ErrInvalidKey},
		{"bad namespace", func() error { _, err := n.Get(ctx, "Not Valid", []byte("k")); return err }(), node.ErrInvalidNamespace},
		{"value too large", func() error { _, err := n.Put(ctx, "", []byte("k"), make([]byte, 9)); return err }(), node.ErrValueTooLarge},
		{"absent key", func() error { _, err := n.Get(ctx, "", []byte("absent")); return err }(), node.ErrNotFound},
		{"no peers", func() error { _, err := n.Sync(ctx); return err }(), node.ErrNoPeers},
		{"canceled", func() error { _, err := n.Put(canceled, "", []byte("k"), []byte("v")); return err }(), nil},
		{"overflow", func() error {
			if _, err := n.Incr(ctx, "", []byte("c"), 1<<62); err != nil {
				return err
			}
			_, err := n.Incr(ctx, "", []byte("c"), 1<<62)
			return err
		}(), node.ErrOverflow},
	} {
		if tc.want == nil { // either outcome is allowed, but an error must be ErrCanceled
			if tc.err != nil && !errors.Is(tc.err, node.ErrCanceled) {
				t.Errorf("%s: got %v, want nil or node.ErrCanceled", tc.name, tc.err)
			}
			continue
		}
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, tc.err, tc.want)
		}
	}
	if _, err := node.New(ctx, node.Config{}); !errors.Is(err, node.ErrInvalidConfig) {
		t.Errorf("New with a zero Config: got %v, want node.ErrInvalidConfig", err)
	}
	if err := n.Start(ctx); !errors.Is(err, node.ErrAlreadyStarted) {
		t.Errorf("second Start: got %v, want node.ErrAlreadyStarted", err)
	}
}

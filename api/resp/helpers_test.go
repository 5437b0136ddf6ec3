package resp

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/grapevine-kv/grapevine/api"
	"github.com/grapevine-kv/grapevine/node"
	"github.com/grapevine-kv/grapevine/node/nodetest"
	"github.com/redis/go-redis/v9"
)

// testMaxValue is the value limit of the test servers.
const testMaxValue = 1024

// served is a node on real Badger on disk answering RESP on loopback.
type served struct {
	node *node.Node
	addr string
}

// serve starts a node (on disk, fsync on) and a Server of it with cfg,
// stopped at cleanup.
func serve(t *testing.T, cfg Config) *served {
	t.Helper()
	ncfg := nodetest.Config(t)
	ncfg.Storage.InMemory, ncfg.Storage.SyncWrites = false, true
	ncfg.MaxValueSize = testMaxValue
	n := nodetest.Start(t, ncfg)
	srv, err := New(n, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return &served{node: n, addr: ln.Addr().String()}
}

// client returns a go-redis client of s (RESP2, as grapevine speaks),
// closed at cleanup.
func (s *served) client(t *testing.T, opts ...func(*redis.Options)) *redis.Client {
	t.Helper()
	o := &redis.Options{Addr: s.addr, Protocol: 2, MaxRetries: -1}
	for _, f := range opts {
		f(o)
	}
	c := redis.NewClient(o)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// tokenFile writes a token file and loads it.
func tokenFile(t *testing.T, content string) (*api.Tokens, string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	tok, err := api.LoadTokens(p)
	if err != nil {
		t.Fatal(err)
	}
	return tok, p
}

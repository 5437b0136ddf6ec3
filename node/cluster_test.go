package node

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
)

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func testConfig(t testing.TB) Config {
	cfg := DefaultConfig()
	cfg.Storage.InMemory = true
	cfg.DataDir = t.TempDir()
	cfg.Storage.SyncWrites = false
	cfg.Peer.MDNS = false
	cfg.Peer.ListenAddrs = nil
	cfg.Peer.DiscoveryInterval = 200 * time.Millisecond
	cfg.AntiEntropy.Interval = 200 * time.Millisecond
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return cfg
}

// makeNodes starts n nodes on a fully linked and connected mocknet and
// waits until gossip flows between every pair. configure, if given, adjusts
// each node's test configuration.
func makeNodes(t testing.TB, n int, configure ...func(*Config)) []*Node {
	t.Helper()
	mn, err := mocknet.FullMeshConnected(n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mn.Close() })
	ctx := context.Background()
	var nodes []*Node
	for _, h := range mn.Hosts() {
		cfg := testConfig(t)
		cfg.Host = h
		for _, f := range configure {
			f(&cfg)
		}
		nd, err := New(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = nd.Close() })
		if err := nd.Start(ctx); err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, nd)
	}
	warmUp(t, nodes)
	return nodes
}

// warmUp writes a probe on each node until every other node has it:
// GossipSub drops what is published before its router has taken a new peer
// in. (Anti-entropy repairs such losses; these tests check push alone.)
func warmUp(t testing.TB, nodes []*Node) {
	t.Helper()
	ctx := context.Background()
	for i, src := range nodes {
		key := []byte(fmt.Sprint("probe-", i))
		eventually(t, "gossip warm-up", func() bool {
			if _, err := src.Put(ctx, "", key, []byte("x")); err != nil {
				t.Fatal(err)
			}
			for _, dst := range nodes {
				if _, err := dst.Get(ctx, "", key); err != nil {
					return false
				}
			}
			return true
		})
	}
}

func TestPutOnAnyPeerReadableOnAll(t *testing.T) {
	nodes := makeNodes(t, 5)
	ctx := context.Background()
	for i, nd := range nodes {
		if _, err := nd.Put(ctx, "", []byte(fmt.Sprint("key-", i)), []byte(fmt.Sprint("value-", i))); err != nil {
			t.Fatal(err)
		}
	}
	for i := range nodes {
		key, want := []byte(fmt.Sprint("key-", i)), fmt.Sprint("value-", i)
		for j, nd := range nodes {
			eventually(t, fmt.Sprintf("%s on node %d", key, j), func() bool {
				v, err := nd.Get(ctx, "", key)
				return err == nil && string(v.Data) == want
			})
		}
	}
	// Concurrent writes to one key converge on every peer to one winner.
	var wg sync.WaitGroup
	for i, nd := range nodes {
		wg.Go(func() {
			if _, err := nd.Put(ctx, "", []byte("contended"), []byte(fmt.Sprint("w", i))); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	eventually(t, "one winner everywhere", func() bool {
		first, err := nodes[0].Get(ctx, "", []byte("contended"))
		if err != nil {
			return false
		}
		for _, nd := range nodes[1:] {
			v, err := nd.Get(ctx, "", []byte("contended"))
			if err != nil || v.Version != first.Version || string(v.Data) != string(first.Data) {
				return false
			}
		}
		return true
	})
	// A delete reaches every peer.
	if err := nodes[2].Delete(ctx, "", []byte("key-0")); err != nil {
		t.Fatal(err)
	}
	for j, nd := range nodes {
		eventually(t, fmt.Sprintf("delete on node %d", j), func() bool {
			_, err := nd.Get(ctx, "", []byte("key-0"))
			return err == ErrNotFound
		})
	}
}

func TestCountersAddUpExactly(t *testing.T) {
	nodes := makeNodes(t, 5)
	ctx := context.Background()
	var wg sync.WaitGroup
	want := int64(0)
	for i, nd := range nodes {
		by := int64(i*3 - 4)
		want += 20 * by
		wg.Go(func() {
			for range 20 {
				if _, err := nd.Incr(ctx, "", []byte("hits"), by); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	for j, nd := range nodes {
		eventually(t, fmt.Sprintf("counter on node %d", j), func() bool {
			v, err := nd.Counter(ctx, "", []byte("hits"))
			return err == nil && v == want
		})
	}
}

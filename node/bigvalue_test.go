package node_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/internal/testutil"
	"github.com/grapevine-kv/grapevine/node"
	"github.com/grapevine-kv/grapevine/node/nodetest"
)

// bigValueSize is the value limit of the big-value tests, and the size of
// their largest values: 16 MiB, three frames' worth of the default limit.
// Their nodes store on disk: Badger's memory mode holds values of at most
// 1 MiB.
const bigValueSize = 16 << 20

// bigValue returns a value of size bytes that differs by seed.
func bigValue(seed byte, size int) []byte {
	v := bytes.Repeat([]byte{seed}, size)
	copy(v, fmt.Sprintf("value %d of %d bytes", seed, size))
	return v
}

// hasValue reports whether n holds key = want in namespace ns.
func hasValue(n *node.Node, ns, key string, want []byte) bool {
	v, err := n.Get(context.Background(), ns, []byte(key))
	return err == nil && bytes.Equal(v.Data, want)
}

// TestBigValuesReplicate writes values of 16 MiB (and small ones between
// them) on one node of three whose MaxValueSize is 16 MiB, with periodic
// anti-entropy effectively off (an hour): they are too large for a gossip
// message and for a frame of the default limit, and must still reach every
// node long before a periodic round could run, through the rounds their
// writer starts at once — with gossip flowing, and with gossip dropped on
// the receivers.
//
// The wait is generous: the test's cost is copying 64 MiB to and from
// Badger and streams, which the race detector makes CPU-bound (seconds on a
// quiet machine, 20 s seen on a loaded one), yet it is a small fraction of
// the 48 minutes (Interval × 0.8, the shortest jittered interval) before
// the first periodic round.
func TestBigValuesReplicate(t *testing.T) {
	const interval = time.Hour
	const wait = 2 * time.Minute
	for _, dropGossip := range []bool{false, true} {
		t.Run(fmt.Sprintf("gossip dropped %v", dropGossip), func(t *testing.T) {
			c := nodetest.NewCluster(t, 3, nodetest.OnDisk(), nodetest.Configure(func(_ int, cfg *node.Config) {
				cfg.MaxValueSize = bigValueSize
				cfg.AntiEntropy.Interval = interval
			}))
			if !dropGossip {
				c.WarmUp()
			}
			for _, nd := range c.Nodes()[1:] {
				nd.DropGossipForTest(dropGossip)
			}
			ctx := context.Background()
			want := map[string][]byte{
				"small-1": []byte("one"),
				"big-1":   bigValue(1, bigValueSize),
				"small-2": []byte("two"),
				"big-2":   bigValue(2, bigValueSize-1000),
			}
			for _, k := range []string{"small-1", "big-1", "small-2", "big-2"} {
				if _, err := c.Node(0).Put(ctx, "blobs", []byte(k), want[k]); err != nil {
					t.Fatalf("put %s: %v", k, err)
				}
			}
			deadline := time.Now().Add(wait) // one deadline for every key on every node
			for i, nd := range c.Nodes()[1:] {
				for k, v := range want {
					testutil.EventuallyWithin(t, time.Until(deadline), fmt.Sprintf("%s on node %d", k, i+1), func() bool {
						return hasValue(nd, "blobs", k, v)
					})
				}
			}
			for i, nd := range c.Nodes() {
				if errs := counterSum(t, nd, "grapevine_sync_errors_total"); errs != 0 {
					t.Errorf("node %d: grapevine_sync_errors_total = %v, want 0", i, errs)
				}
			}
		})
	}
}

// TestBigAndSmallWritesKeepReplicating interleaves big values (6 MiB,
// over the default frame limit, and 16 MiB) with small writes, gossip
// dropped everywhere but on the writer, so that only anti-entropy
// replicates: no round fails, and every write, the small ones after the
// big ones included, reaches every node.
func TestBigAndSmallWritesKeepReplicating(t *testing.T) {
	c := nodetest.NewCluster(t, 3, nodetest.OnDisk(), nodetest.Configure(func(_ int, cfg *node.Config) {
		cfg.MaxValueSize = bigValueSize
	}))
	for _, nd := range c.Nodes()[1:] {
		nd.DropGossipForTest(true)
	}
	ctx := context.Background()
	want := map[string][]byte{}
	for i := range 3 {
		big := fmt.Sprintf("big-%d", i)
		want[big] = bigValue(byte(10+i), []int{6 << 20, bigValueSize, 3 << 20}[i])
		if _, err := c.Node(0).Put(ctx, "mixed", []byte(big), want[big]); err != nil {
			t.Fatal(err)
		}
		for j := range 5 {
			small := fmt.Sprintf("small-%d-%d", i, j)
			want[small] = []byte(small)
			if _, err := c.Node(0).Put(ctx, "mixed", []byte(small), want[small]); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, nd := range c.Nodes()[1:] {
		for k, v := range want {
			testutil.Eventually(t, fmt.Sprintf("%s on node %d", k, i+1), func() bool { return hasValue(nd, "mixed", k, v) })
		}
	}
	for i, nd := range c.Nodes() {
		if errs := counterSum(t, nd, "grapevine_sync_errors_total"); errs != 0 {
			t.Errorf("node %d: grapevine_sync_errors_total = %v, want 0", i, errs)
		}
	}
}

// lockedBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestValueTooLargeForPeerDoesNotStall: node 0 accepts 16 MiB values, node
// 1 only the default 1 MiB. A big value written on node 0 cannot be sent
// to node 1: it is skipped with one warning naming the key, rounds still
// succeed, and the small writes after it reach node 1.
func TestValueTooLargeForPeerDoesNotStall(t *testing.T) {
	var logs lockedBuffer
	c := nodetest.NewCluster(t, 2, nodetest.OnDisk(), nodetest.Configure(func(i int, cfg *node.Config) {
		if i == 0 {
			cfg.MaxValueSize = bigValueSize
			cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
		}
	}))
	c.Node(1).DropGossipForTest(true)
	ctx := context.Background()
	if _, err := c.Node(0).Put(ctx, "mixed", []byte("too-big-for-1"), bigValue(7, 6<<20)); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := c.Node(0).Put(ctx, "mixed", fmt.Appendf(nil, "small-%d", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		testutil.Eventually(t, fmt.Sprintf("small-%d on node 1", i), func() bool {
			return hasValue(c.Node(1), "mixed", fmt.Sprintf("small-%d", i), []byte("v"))
		})
	}
	// Several more rounds, each of which skips the big value again.
	base := counterSum(t, c.Node(0), "grapevine_sync_rounds_total")
	testutil.Eventually(t, "more rounds on node 0", func() bool {
		return counterSum(t, c.Node(0), "grapevine_sync_rounds_total") >= base+4
	})
	if _, err := c.Node(1).Get(ctx, "mixed", []byte("too-big-for-1")); err == nil {
		t.Error("node 1 holds a value above its limit")
	}
	for i, nd := range c.Nodes() {
		if errs := counterSum(t, nd, "grapevine_sync_errors_total"); errs != 0 {
			t.Errorf("node %d: grapevine_sync_errors_total = %v, want 0", i, errs)
		}
	}
	if n := strings.Count(logs.String(), "key=too-big-for-1"); n != 1 {
		t.Errorf("the skipped key was warned about %d times, want once; logs:\n%s", n, logs.String())
	}
}

package node_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/grapevine-kv/grapevine/internal/testutil"
	"github.com/grapevine-kv/grapevine/node"
	"github.com/grapevine-kv/grapevine/node/nodetest"
)

func TestPutOnAnyPeerReadableOnAll(t *testing.T) {
	c := nodetest.NewCluster(t, 5)
	c.WarmUp()
	nodes := c.Nodes()
	ctx := context.Background()
	for i, nd := range nodes {
		if _, err := nd.Put(ctx, "", []byte(fmt.Sprint("key-", i)), []byte(fmt.Sprint("value-", i))); err != nil {
			t.Fatal(err)
		}
	}
	for i := range nodes {
		key, want := []byte(fmt.Sprint("key-", i)), fmt.Sprint("value-", i)
		for j, nd := range nodes {
			testutil.Eventually(t, fmt.Sprintf("%s on node %d", key, j), func() bool {
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
	testutil.Eventually(t, "one winner everywhere", func() bool {
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
		testutil.Eventually(t, fmt.Sprintf("delete on node %d", j), func() bool {
			_, err := nd.Get(ctx, "", []byte("key-0"))
			return err == node.ErrNotFound
		})
	}
}

func TestCountersAddUpExactly(t *testing.T) {
	c := nodetest.NewCluster(t, 5)
	c.WarmUp()
	nodes := c.Nodes()
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
		testutil.Eventually(t, fmt.Sprintf("counter on node %d", j), func() bool {
			v, err := nd.Counter(ctx, "", []byte("hits"))
			return err == nil && v == want
		})
	}
}

package node_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/internal/testutil"
	"github.com/grapevine-kv/grapevine/node"
	"github.com/grapevine-kv/grapevine/node/nodetest"
)

// TestNewNamespaceAtGossipSpeed: with anti-entropy off (ManualSync), the
// first write to a namespace no node holds reaches the others by gossip
// alone — it rides on the network's namespaces topic — and so do the
// writes that follow it, in that namespace and in a second new one. No
// round can run, so the wait proves nothing about speed and is generous:
// a machine under load delays gossip but does not lose it.
func TestNewNamespaceAtGossipSpeed(t *testing.T) {
	c := nodetest.NewCluster(t, 3, nodetest.Configure(func(_ int, cfg *node.Config) { cfg.ManualSync = true }))
	c.WarmUp()
	ctx := context.Background()
	for _, ns := range []string{"brand-new", "another.one"} {
		for i := range 5 {
			key := fmt.Sprintf("%s-%d", ns, i)
			if _, err := c.Node(0).Put(ctx, ns, []byte(key), []byte("v")); err != nil {
				t.Fatal(err)
			}
			for j, nd := range c.Nodes()[1:] {
				testutil.Eventually(t, fmt.Sprintf("%s/%s on node %d", ns, key, j+1), func() bool {
					return hasValue(nd, ns, key, []byte("v"))
				})
			}
		}
	}
	for i, nd := range c.Nodes() {
		if rounds := counterSum(t, nd, "grapevine_sync_rounds_total"); rounds != 0 {
			t.Errorf("node %d ran %v anti-entropy rounds, want none", i, rounds)
		}
	}
}

// TestAnnouncementWindow: with partial replication and anti-entropy off,
// a holder's first write in a new namespace reaches the other holder by
// gossip alone (on the namespaces topic); once the announcement window has
// passed, the writer's messages go on the namespace's own topic — none on
// the namespaces topic, although a non-holder there never joins — and the
// non-holder receives none of them.
func TestAnnouncementWindow(t *testing.T) {
	patterns := [][]string{{"default", "n-*"}, {"default", "n-*"}, {"default"}}
	c := nodetest.NewCluster(t, 3, nodetest.Configure(func(i int, cfg *node.Config) {
		cfg.ManualSync = true
		cfg.Namespaces = patterns[i]
		cfg.Gossip.AnnounceWindow = 300 * time.Millisecond
	}))
	c.WarmUp()
	ctx := context.Background()
	w, holder, other := c.Node(0), c.Node(1), c.Node(2)
	put := func(key string) {
		t.Helper()
		if _, err := w.Put(ctx, "n-1", []byte(key), []byte("v")); err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, key+" on the other holder", func() bool { return hasValue(holder, "n-1", key, []byte("v")) })
	}
	announced := func() float64 { return counterSum(t, w, "grapevine_gossip_announcements_total") }
	put("first")
	if announced() == 0 {
		t.Fatal("the namespace's first write was not announced")
	}
	// The window ends: a write then goes on the namespace's topic.
	i := 0
	testutil.Eventually(t, "a write not announced", func() bool {
		before := announced()
		i++
		put(fmt.Sprintf("probe-%d", i))
		return announced() == before
	})
	before, ignored := announced(), counterSum(t, other, "grapevine_ignored_states_total")
	for i := range 5 {
		put(fmt.Sprintf("later-%d", i))
	}
	if a := announced(); a != before {
		t.Errorf("%v of the later writes went on the namespaces topic, want none", a-before)
	}
	if n := counterSum(t, other, "grapevine_ignored_states_total"); n != ignored {
		t.Errorf("the non-holder received %v states of the later writes, want none", n-ignored)
	}
	if rounds := counterSum(t, holder, "grapevine_sync_rounds_total"); rounds != 0 {
		t.Errorf("the holder ran %v anti-entropy rounds, want none", rounds)
	}
}

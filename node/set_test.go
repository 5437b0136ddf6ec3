package node_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/internal/testutil"
	"github.com/grapevine-kv/grapevine/node"
	"github.com/grapevine-kv/grapevine/node/nodetest"
)

func memberList(t *testing.T, nd *node.Node, key string) string {
	t.Helper()
	ms, err := nd.SetMembers(context.Background(), "", []byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return string(bytes.Join(ms, []byte(",")))
}

// TestSetAcrossPartition: a set replicates by push; across a partition
// one side removes x while the other adds x again (and y); after healing,
// anti-entropy converges both sides to x (add wins), y, and not z.
func TestSetAcrossPartition(t *testing.T) {
	c := nodetest.NewCluster(t, 2)
	c.WarmUp()
	a, b := c.Node(0), c.Node(1)
	ctx := context.Background()
	if err := a.SetAdd(ctx, "", []byte("s"), []byte("x"), []byte("z")); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "x,z pushed to b", func() bool { return memberList(t, b, "s") == "x,z" })

	c.Partition(0)
	if err := a.SetRemove(ctx, "", []byte("s"), []byte("x"), []byte("z")); err != nil {
		t.Fatal(err)
	}
	if err := b.SetAdd(ctx, "", []byte("s"), []byte("x"), []byte("y")); err != nil {
		t.Fatal(err)
	}
	if got := memberList(t, a, "s"); got != "" {
		t.Fatalf("a during the partition: %q", got)
	}
	c.Heal()
	for i, nd := range c.Nodes() {
		testutil.Eventually(t, fmt.Sprintf("node %d has x,y", i), func() bool { return memberList(t, nd, "s") == "x,y" })
	}
	if ok, err := a.SetContains(ctx, "", []byte("s"), []byte("x")); !ok || err != nil {
		t.Fatalf("SetContains(x) = %t, %v", ok, err)
	}
	if ok, _ := a.SetContains(ctx, "", []byte("s"), []byte("z")); ok {
		t.Fatal("z came back")
	}
}

// TestCounterResetKeepsConcurrentIncrement: a reset on one side of a
// partition removes what that side had seen; an increment made meanwhile
// on the other side survives it everywhere.
func TestCounterResetKeepsConcurrentIncrement(t *testing.T) {
	c := nodetest.NewCluster(t, 2)
	c.WarmUp()
	a, b := c.Node(0), c.Node(1)
	ctx := context.Background()
	counter := func(nd *node.Node) int64 {
		v, err := nd.Counter(ctx, "", []byte("hits"))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if _, err := a.Incr(ctx, "", []byte("hits"), 5); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "b sees 5", func() bool { return counter(b) == 5 })
	c.Partition(0)
	if err := a.ResetCounter(ctx, "", []byte("hits")); err != nil {
		t.Fatal(err)
	}
	if v := counter(a); v != 0 {
		t.Fatalf("after reset: %d", v)
	}
	if _, err := b.Incr(ctx, "", []byte("hits"), 3); err != nil {
		t.Fatal(err)
	}
	c.Heal()
	for i, nd := range c.Nodes() {
		testutil.Eventually(t, fmt.Sprintf("node %d reads 3", i), func() bool { return counter(nd) == 3 })
	}
	if err := a.ResetCounter(ctx, "", []byte("absent")); err != nil {
		t.Fatalf("resetting an absent counter: %v", err)
	}
}

// TestListEveryType: List shows registers, counters and sets, a name once
// per type, skipping deleted, reset and empty ones; Types says what a name
// is; paging never splits a name.
func TestListEveryType(t *testing.T) {
	c := nodetest.NewCluster(t, 1)
	nd, ctx := c.Node(0), context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := nd.Put(ctx, "", []byte("both"), []byte("v"))
	must(err)
	_, err = nd.Incr(ctx, "", []byte("both"), 2)
	must(err)
	_, err = nd.Incr(ctx, "", []byte("gone-counter"), 2)
	must(err)
	must(nd.ResetCounter(ctx, "", []byte("gone-counter")))
	must(nd.SetAdd(ctx, "", []byte("s"), []byte("m")))
	must(nd.SetAdd(ctx, "", []byte("empty"), []byte("m")))
	must(nd.SetRemove(ctx, "", []byte("empty"), []byte("m")))
	_, err = nd.Put(ctx, "", []byte("z"), []byte("v"))
	must(err)

	var got []string
	opts := node.ListOptions{Limit: 1}
	for {
		page, err := nd.List(ctx, "", opts)
		must(err)
		for _, e := range page.Entries {
			got = append(got, fmt.Sprintf("%s:%s:%s%d%s", e.Key, e.Type, e.Data, e.Counter, bytes.Join(e.Members, nil)))
		}
		if len(page.Next) == 0 {
			break
		}
		opts.After = page.Next
	}
	want := []string{"both:register:v0", "both:counter:2", "s:set:0m", "z:register:v0"}
	if !slices.Equal(got, want) {
		t.Fatalf("List = %q, want %q", got, want)
	}
	for key, want := range map[string][]crdt.Type{"both": {crdt.TypeRegister, crdt.TypeCounter}, "s": {crdt.TypeSet}, "gone-counter": nil, "empty": nil} {
		if got, err := nd.Types(ctx, "", []byte(key)); err != nil || !slices.Equal(got, want) {
			t.Errorf("Types(%s) = %v, %v; want %v", key, got, err, want)
		}
	}
	// Among some types only (RESP's SET asks only for counters and sets).
	among := []crdt.Type{crdt.TypeCounter, crdt.TypeSet}
	for key, want := range map[string][]crdt.Type{"both": {crdt.TypeCounter}, "s": {crdt.TypeSet}, "z": nil} {
		if got, err := nd.Types(ctx, "", []byte(key), among...); err != nil || !slices.Equal(got, want) {
			t.Errorf("Types(%s, among counter and set) = %v, %v; want %v", key, got, err, want)
		}
	}
	// Bad members are refused with a clear error.
	for _, m := range [][]byte{{}, make([]byte, node.MaxMemberLen+1)} {
		if err := nd.SetAdd(ctx, "", []byte("s"), m); !errors.Is(err, node.ErrInvalidArgument) || !strings.Contains(err.Error(), "1 to 4096 bytes") {
			t.Errorf("SetAdd(%d bytes) = %v", len(m), err)
		}
	}
}

// TestSetAndResetRefusedInSignedNamespace: sets and resets carry no
// signature, so a namespace with a writer list refuses them.
func TestSetAndResetRefusedInSignedNamespace(t *testing.T) {
	c := nodetest.NewCluster(t, 1, nodetest.Writers("signed", 0))
	nd, ctx := c.Node(0), context.Background()
	if _, err := nd.Incr(ctx, "signed", []byte("c"), 1); err != nil {
		t.Fatal(err)
	}
	if err := nd.ResetCounter(ctx, "signed", []byte("c")); !errors.Is(err, node.ErrForbidden) || !strings.Contains(err.Error(), "cannot be signed") {
		t.Errorf("ResetCounter in a signed namespace: %v", err)
	}
	if err := nd.SetAdd(ctx, "signed", []byte("s"), []byte("m")); !errors.Is(err, node.ErrForbidden) {
		t.Errorf("SetAdd in a signed namespace: %v", err)
	}
	if v, _ := nd.Counter(ctx, "signed", []byte("c")); v != 1 {
		t.Errorf("the refused reset changed the counter: %d", v)
	}
}

// TestWatchSetAndReset: a watcher sees set changes with the members and a
// reset as a counter event with Reset set.
func TestWatchSetAndReset(t *testing.T) {
	c := nodetest.NewCluster(t, 1)
	nd := c.Node(0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, err := nd.Watch(ctx, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := nd.SetAdd(ctx, "", []byte("s"), []byte("a"), []byte("b")); err != nil {
		t.Fatal(err)
	}
	if _, err := nd.Incr(ctx, "", []byte("c"), 4); err != nil {
		t.Fatal(err)
	}
	if err := nd.ResetCounter(ctx, "", []byte("c")); err != nil {
		t.Fatal(err)
	}
	ev := <-events
	if ev.Type != crdt.TypeSet || string(bytes.Join(ev.Members, []byte(","))) != "a,b" {
		t.Fatalf("set event %+v", ev)
	}
	if ev = <-events; ev.Type != crdt.TypeCounter || ev.Counter != 4 || ev.Reset {
		t.Fatalf("incr event %+v", ev)
	}
	if ev = <-events; ev.Type != crdt.TypeCounter || ev.Counter != 0 || !ev.Reset {
		t.Fatalf("reset event %+v", ev)
	}
}

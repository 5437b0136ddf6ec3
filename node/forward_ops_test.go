package node_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/internal/testutil"
	"github.com/grapevine-kv/grapevine/node"
	"github.com/grapevine-kv/grapevine/node/nodetest"
)

// TestForwardingEveryOp: a peer that does not replicate a namespace serves
// every operation a door uses on it by forwarding it to a holder — writes
// with conditions and a TTL (the holder checks the condition), listing
// with its cursor, types, counter reset, set operations, transactions —
// each answer says which holder served it, and nothing is stored on the
// forwarding peer. A watch is refused with ErrNoHolder naming a holder.
func TestForwardingEveryOp(t *testing.T) {
	c := partialCluster(t)
	ctx := context.Background()
	fw := c.Node(3)
	holders := []string{c.Node(0).Peer().ID().String(), c.Node(1).Peer().ID().String()}
	testutil.Eventually(t, "a forwarded put", func() bool {
		_, err := fw.Put(ctx, "a", []byte("first"), []byte("1"))
		return err == nil
	})
	// served runs op with a served-by tracker and checks a holder answered.
	served := func(what string, op func(ctx context.Context) error) error {
		t.Helper()
		fctx, by := fw.TrackServedBy(ctx)
		err := op(fctx)
		if !slices.Contains(holders, by()) {
			t.Fatalf("%s: served by %s, not by a holder of a (%v)", what, by(), holders)
		}
		return err
	}

	// Conditions and TTL, evaluated by the holder.
	var v1 crdt.Timestamp
	if err := served("put if absent", func(ctx context.Context) (err error) {
		v1, err = fw.PutWith(ctx, "a", []byte("c"), []byte("x"), node.WriteOptions{IfAbsent: true})
		return err
	}); err != nil || v1 == 0 {
		t.Fatalf("forwarded put if absent: %v, %v", v1, err)
	}
	err := served("put if absent again", func(ctx context.Context) error {
		_, err := fw.PutWith(ctx, "a", []byte("c"), []byte("y"), node.WriteOptions{IfAbsent: true})
		return err
	})
	var ce *node.ConditionError
	if !errors.Is(err, node.ErrPreconditionFailed) || !errors.As(err, &ce) || ce.Current != v1 {
		t.Fatalf("a failed forwarded condition: %v (%+v), want ErrPreconditionFailed at version %d", err, ce, v1)
	}
	if _, err := fw.PutWith(ctx, "a", []byte("c"), []byte("z"), node.WriteOptions{IfVersion: v1, TTL: time.Hour}); err != nil {
		t.Fatalf("forwarded put if version with a TTL: %v", err)
	}
	if v, err := fw.Get(ctx, "a", []byte("c")); err != nil || string(v.Data) != "z" || v.Expires.IsZero() {
		t.Fatalf("after a forwarded put with a TTL: %+v, %v", v, err)
	}
	if err := fw.DeleteWith(ctx, "a", []byte("c"), node.WriteOptions{IfVersion: v1}); !errors.Is(err, node.ErrPreconditionFailed) {
		t.Fatalf("forwarded delete at a stale version: %v", err)
	}

	// Counters and sets.
	if _, err := fw.Incr(ctx, "a", []byte("n"), 3); err != nil {
		t.Fatal(err)
	}
	if err := served("reset", func(ctx context.Context) error { return fw.ResetCounter(ctx, "a", []byte("n")) }); err != nil {
		t.Fatalf("forwarded reset: %v", err)
	}
	if n, err := fw.Counter(ctx, "a", []byte("n")); err != nil || n != 0 {
		t.Fatalf("counter after a forwarded reset: %d, %v", n, err)
	}
	if err := served("set add", func(ctx context.Context) error {
		return fw.SetAdd(ctx, "a", []byte("s"), []byte("m1"), []byte("m2"), []byte("m3"))
	}); err != nil {
		t.Fatal(err)
	}
	if err := served("set remove", func(ctx context.Context) error { return fw.SetRemove(ctx, "a", []byte("s"), []byte("m2")) }); err != nil {
		t.Fatal(err)
	}
	var members [][]byte
	if err := served("set members", func(ctx context.Context) (err error) {
		members, err = fw.SetMembers(ctx, "a", []byte("s"))
		return err
	}); err != nil || !slices.EqualFunc(members, [][]byte{[]byte("m1"), []byte("m3")}, func(a, b []byte) bool { return string(a) == string(b) }) {
		t.Fatalf("forwarded set members: %q, %v", members, err)
	}
	for m, want := range map[string]bool{"m1": true, "m2": false} {
		var in bool
		if err := served("set contains", func(ctx context.Context) (err error) {
			in, err = fw.SetContains(ctx, "a", []byte("s"), []byte(m))
			return err
		}); err != nil || in != want {
			t.Fatalf("forwarded contains %s: %v, %v", m, in, err)
		}
	}

	// A transaction, and one whose condition fails.
	var res []node.TxnResult
	if err := served("txn", func(ctx context.Context) (err error) {
		res, err = fw.Txn(ctx, "a", []node.TxnOp{{Kind: node.TxnPut, Key: []byte("t"), Value: []byte("v")}, {Kind: node.TxnIncr, Key: []byte("s"), By: 7}})
		return err
	}); err != nil || len(res) != 2 || res[0].Version == 0 || res[1].Counter != 7 {
		t.Fatalf("forwarded txn: %+v, %v", res, err)
	}
	_, err = fw.Txn(ctx, "a", []node.TxnOp{{Kind: node.TxnPut, Key: []byte("t"), Value: []byte("w"), WriteOptions: node.WriteOptions{IfAbsent: true}}})
	if !errors.As(err, &ce) || ce.Op != "op 0 (put)" || ce.Current != res[0].Version {
		t.Fatalf("forwarded txn with a failing condition: %v, want op 0 refused at version %d", err, res[0].Version)
	}

	// Types of a name that is a register, a counter and a set.
	var types []crdt.Type
	if err := served("types", func(ctx context.Context) (err error) {
		types, err = fw.Types(ctx, "a", []byte("s"))
		return err
	}); err != nil || !slices.Equal(types, []crdt.Type{crdt.TypeCounter, crdt.TypeSet}) {
		t.Fatalf("forwarded types: %v, %v", types, err)
	}
	if err := served("types among", func(ctx context.Context) (err error) {
		types, err = fw.Types(ctx, "a", []byte("s"), crdt.TypeRegister, crdt.TypeSet)
		return err
	}); err != nil || !slices.Equal(types, []crdt.Type{crdt.TypeSet}) {
		t.Fatalf("forwarded types among register and set: %v, %v", types, err)
	}

	// Listing, page by page, equals the holders' own listing (once they agree).
	listing := func(ctx context.Context, n *node.Node, opts node.ListOptions) ([]string, []byte) {
		page, err := n.List(ctx, "a", opts)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range page.Entries {
			out = append(out, string(e.Key)+"/"+e.Type.String())
		}
		return out, page.Next
	}
	var want []string
	testutil.Eventually(t, "both holders list every key", func() bool {
		want, _ = listing(ctx, c.Node(0), node.ListOptions{})
		l1, _ := listing(ctx, c.Node(1), node.ListOptions{})
		return slices.Equal(want, l1) && slices.Contains(want, "t/register")
	})
	var got []string
	var after []byte
	for range len(want) {
		var page []string
		if err := served("list", func(ctx context.Context) error {
			page, after = listing(ctx, fw, node.ListOptions{After: after, Limit: 2})
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		got = append(got, page...)
		if len(after) == 0 {
			break
		}
	}
	if !slices.Equal(got, want) || len(want) < 5 {
		t.Fatalf("forwarded listing in pages of 2: %v, want %v", got, want)
	}
	if page, err := fw.List(ctx, "a", node.ListOptions{Limit: 1}); err != nil || !slices.Contains(holders, page.Entries[0].ServedBy) {
		t.Fatalf("a forwarded entry's ServedBy: %+v, %v", page, err)
	}

	// Watches are not forwarded: the error names a holder.
	_, err = fw.Watch(ctx, "a", nil)
	if !errors.Is(err, node.ErrNoHolder) || !strings.Contains(err.Error(), holders[0]) && !strings.Contains(err.Error(), holders[1]) {
		t.Fatalf("watch of a namespace held elsewhere: %v, want ErrNoHolder naming a holder", err)
	}
	if _, err := fw.WatchSince(ctx, "a", nil, 0); !errors.Is(err, node.ErrNoHolder) {
		t.Fatalf("watch since of a namespace held elsewhere: %v", err)
	}
	if slices.Contains(fw.NamespacesForTest(), "a") {
		t.Fatal("the forwarding peer stored namespace a")
	}
}

// TestForwardedListingOfLargeValues: a forwarded listing whose values do
// not fit in one answer comes in shorter pages, and every key arrives
// whole.
func TestForwardedListingOfLargeValues(t *testing.T) {
	patterns := [][]string{{"default", "a"}, {"default"}}
	c := nodetest.NewCluster(t, 2, nodetest.Configure(func(i int, cfg *node.Config) { cfg.Namespaces = patterns[i] }))
	ctx := context.Background()
	var keys, values [][]byte
	for i := range 8 {
		keys = append(keys, fmt.Appendf(nil, "big-%02d", i))
		values = append(values, bytes.Repeat([]byte{byte('a' + i)}, 900<<10))
	}
	if err := c.Node(0).FillForTest("a", keys, values); err != nil {
		t.Fatal(err)
	}
	fw := c.Node(1)
	var page node.Page
	testutil.Eventually(t, "a forwarded listing", func() bool {
		var err error
		page, err = fw.List(ctx, "a", node.ListOptions{})
		return err == nil
	})
	got, pages := 0, 1
	for {
		for _, e := range page.Entries {
			if !bytes.Equal(e.Key, keys[got]) || !bytes.Equal(e.Data, values[got]) {
				t.Fatalf("entry %d: key %q with %d bytes, want %q whole", got, e.Key, len(e.Data), keys[got])
			}
			got++
		}
		if len(page.Next) == 0 {
			break
		}
		var err error
		if page, err = fw.List(ctx, "a", node.ListOptions{After: page.Next}); err != nil {
			t.Fatal(err)
		}
		pages++
	}
	if got != len(keys) || pages < 2 {
		t.Fatalf("%d keys in %d pages, want %d in several", got, pages, len(keys))
	}
}

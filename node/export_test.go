package node_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/internal/wire"
	"github.com/grapevine-kv/grapevine/node"
	"github.com/grapevine-kv/grapevine/node/nodetest"
)

// exported returns every state of an export of n (tombstones included) as
// "ns/type/key" → crdt encoding.
func exported(tb testing.TB, n *node.Node) map[string]string {
	tb.Helper()
	var buf bytes.Buffer
	if _, err := n.Export(context.Background(), &buf, node.ExportOptions{Tombstones: true}); err != nil {
		tb.Fatal(err)
	}
	return decodeExport(tb, &buf)
}

func decodeExport(tb testing.TB, r io.Reader) map[string]string {
	tb.Helper()
	er, err := wire.NewExportReader(r)
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]string{}
	for {
		rec, err := er.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			tb.Fatal(err)
		}
		out[fmt.Sprintf("%s/%s/%s", rec.Namespace, rec.State.Type(), rec.Key)] = string(crdt.Encode(rec.State))
	}
}

// fillAllTypes writes every kind of state on n in two namespaces: values, a value
// with a TTL, a tombstone, counters (one reset, one reset then
// incremented), sets (one with a member removed, one emptied).
func fillAllTypes(tb testing.TB, n *node.Node, tag string) {
	tb.Helper()
	ctx := context.Background()
	for _, ns := range []string{"", "other"} {
		must := func(err error) {
			tb.Helper()
			if err != nil {
				tb.Fatal(err)
			}
		}
		_, err := n.Put(ctx, ns, []byte("v/plain"), []byte("plain "+tag))
		must(err)
		_, err = n.PutWith(ctx, ns, []byte("v/ttl"), []byte("ttl "+tag), node.WriteOptions{TTL: time.Hour})
		must(err)
		_, err = n.Put(ctx, ns, []byte("v/gone"), []byte("x"))
		must(err)
		must(n.Delete(ctx, ns, []byte("v/gone")))
		_, err = n.Incr(ctx, ns, []byte("c/hits"), 5)
		must(err)
		_, err = n.Incr(ctx, ns, []byte("c/reset"), 3)
		must(err)
		must(n.ResetCounter(ctx, ns, []byte("c/reset")))
		_, err = n.Incr(ctx, ns, []byte("c/again"), 2)
		must(err)
		must(n.ResetCounter(ctx, ns, []byte("c/again")))
		_, err = n.Incr(ctx, ns, []byte("c/again"), 7)
		must(err)
		must(n.SetAdd(ctx, ns, []byte("s/tags"), []byte("a-"+tag), []byte("b")))
		must(n.SetRemove(ctx, ns, []byte("s/tags"), []byte("b")))
		must(n.SetAdd(ctx, ns, []byte("s/empty"), []byte("x")))
		must(n.SetRemove(ctx, ns, []byte("s/empty"), []byte("x")))
	}
}

// TestExportImportRoundTrip: a full export imported into an empty peer
// (on disk) gives it exactly the same states, byte for byte, of every
// type; importing it again changes nothing.
func TestExportImportRoundTrip(t *testing.T) {
	c := nodetest.NewCluster(t, 2, nodetest.Unconnected(), nodetest.OnDisk())
	src, dst := c.Node(0), c.Node(1)
	fillAllTypes(t, src, "src")
	want := exported(t, src)
	if len(want) != 16 {
		t.Fatalf("the source exports %d states, want 16", len(want))
	}

	var buf bytes.Buffer
	st, err := src.Export(context.Background(), &buf, node.ExportOptions{Tombstones: true})
	if err != nil {
		t.Fatal(err)
	}
	file := buf.Bytes()
	got, err := dst.Import(context.Background(), bytes.NewReader(file), node.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.States != st.States || got.Changed != st.States || got.Refused != 0 {
		t.Fatalf("import: %+v, want all %d states read and changed", got, st.States)
	}
	if have := exported(t, dst); !equalMaps(have, want) {
		t.Fatalf("after import the peer holds\n%v\nwant\n%v", have, want)
	}
	v, err := dst.Get(context.Background(), "other", []byte("v/ttl"))
	if err != nil || string(v.Data) != "ttl src" || v.Expires.IsZero() {
		t.Fatalf("imported TTL value: %+v, %v", v, err)
	}
	if n, _ := dst.Counter(context.Background(), "", []byte("c/again")); n != 7 {
		t.Fatalf("imported reset-then-incremented counter reads %d, want 7", n)
	}

	again, err := dst.Import(context.Background(), bytes.NewReader(file), node.ImportOptions{})
	if err != nil || again.Changed != 0 {
		t.Fatalf("second import: %+v, %v; want nothing changed", again, err)
	}
}

// TestExportWithoutTombstones leaves out what List hides and honours the
// namespace and prefix selection.
func TestExportWithoutTombstones(t *testing.T) {
	c := nodetest.NewCluster(t, 1, nodetest.Unconnected())
	n := c.Node(0)
	fillAllTypes(t, n, "x")
	var buf bytes.Buffer
	if _, err := n.Export(context.Background(), &buf, node.ExportOptions{Namespaces: []string{"other"}, Prefix: []byte("v/")}); err != nil {
		t.Fatal(err)
	}
	got := decodeExport(t, &buf)
	if len(got) != 2 || got["other/register/v/plain"] == "" || got["other/register/v/ttl"] == "" {
		t.Fatalf("export of other, prefix v/, no tombstones: %v", got)
	}
}

// TestImportIntoDivergedPeer: two peers that wrote the same keys apart
// converge by the merge rules when each imports the other's export: the
// later register write wins, counters add up, sets keep both adds, and a
// delete carried by a tombstone removes the other's older value.
func TestImportIntoDivergedPeer(t *testing.T) {
	c := nodetest.NewCluster(t, 2, nodetest.Unconnected(), nodetest.OnDisk())
	a, b := c.Node(0), c.Node(1)
	ctx := context.Background()
	fillAllTypes(t, a, "a")
	if _, err := b.Put(ctx, "", []byte("v/gone"), []byte("old on b")); err != nil {
		t.Fatal(err)
	}
	fillAllTypes(t, b, "b") // later: b's registers win, and b deletes v/gone again
	if _, err := a.Put(ctx, "", []byte("v/late"), []byte("a wrote last")); err != nil {
		t.Fatal(err)
	}

	var fromA, fromB bytes.Buffer
	if _, err := a.Export(ctx, &fromA, node.ExportOptions{Tombstones: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Export(ctx, &fromB, node.ExportOptions{Tombstones: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Import(ctx, &fromA, node.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Import(ctx, &fromB, node.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	if ea, eb := exported(t, a), exported(t, b); !equalMaps(ea, eb) {
		t.Fatalf("not converged:\na %v\nb %v", ea, eb)
	}
	for _, n := range []*node.Node{a, b} {
		if v, err := n.Get(ctx, "", []byte("v/plain")); err != nil || string(v.Data) != "plain b" {
			t.Fatalf("v/plain: %q, %v; want b's later write", v.Data, err)
		}
		if v, err := n.Get(ctx, "", []byte("v/late")); err != nil || string(v.Data) != "a wrote last" {
			t.Fatalf("v/late: %q, %v", v.Data, err)
		}
		if _, err := n.Get(ctx, "", []byte("v/gone")); !errors.Is(err, node.ErrNotFound) {
			t.Fatalf("v/gone: %v, want deleted", err)
		}
		if got, _ := n.Counter(ctx, "", []byte("c/hits")); got != 10 {
			t.Fatalf("c/hits = %d, want 5 from each peer", got)
		}
		if got, _ := n.SetMembers(ctx, "", []byte("s/tags")); len(got) != 2 {
			t.Fatalf("s/tags = %q, want a-a and a-b", got)
		}
	}
}

// TestImportRefusesForgedStates: in a signed namespace, an import is held
// to the writer list like a peer: a state signed by a non-writer, or not
// signed, is refused and counted, the writer's state is applied.
func TestImportRefusesForgedStates(t *testing.T) {
	c := nodetest.NewCluster(t, 2, nodetest.Unconnected(), nodetest.Writers(signedNS, 0))
	writer, other := c.Node(0), c.Node(1)
	outsider := privKey(t, c, 1)
	var buf bytes.Buffer
	ew, err := wire.NewExportWriter(&buf, wire.ExportHeader{Namespaces: []string{signedNS}})
	if err != nil {
		t.Fatal(err)
	}
	good := signReg(t, privKey(t, c, 0), signedNS, "good", crdt.Register{Time: crdt.NewTimestamp(time.Now().UnixMilli(), 0), Origin: writer.ID(), Value: []byte("ok")})
	forged := signReg(t, outsider, signedNS, "forged", crdt.Register{Time: crdt.NewTimestamp(time.Now().UnixMilli(), 0), Origin: other.ID(), Value: []byte("evil")})
	unsigned := crdt.Register{Time: crdt.NewTimestamp(time.Now().UnixMilli(), 0), Origin: writer.ID(), Value: []byte("unsigned")}
	for key, st := range map[string]crdt.State{"good": good, "forged": forged, "unsigned": unsigned} {
		if err := ew.WriteEncoded(signedNS, crdt.TypeRegister, []byte(key), crdt.Encode(st)); err != nil {
			t.Fatal(err)
		}
	}
	if err := ew.Close(); err != nil {
		t.Fatal(err)
	}
	for i, n := range []*node.Node{writer, other} {
		st, err := n.Import(context.Background(), bytes.NewReader(buf.Bytes()), node.ImportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if st.States != 3 || st.Changed != 1 || st.Refused != 2 {
			t.Fatalf("node %d: import %+v, want 3 read, 1 changed, 2 refused", i, st)
		}
		if _, err := n.Get(context.Background(), signedNS, []byte("forged")); !errors.Is(err, node.ErrNotFound) {
			t.Fatalf("node %d: the forged state was stored: %v", i, err)
		}
		if v, err := n.Get(context.Background(), signedNS, []byte("good")); err != nil || string(v.Data) != "ok" {
			t.Fatalf("node %d: the writer's state: %q, %v", i, v.Data, err)
		}
		if refused(t, n, signedNS, "not_writer") != 1 || refused(t, n, signedNS, "unsigned") != 1 {
			t.Fatalf("node %d: refusals not counted", i)
		}
	}
}

// TestImportRefusesDamagedExports: a truncated or damaged stream is
// ErrInvalidArgument, and what is not an export changes nothing.
func TestImportRefusesDamagedExports(t *testing.T) {
	c := nodetest.NewCluster(t, 2, nodetest.Unconnected())
	fillAllTypes(t, c.Node(0), "x")
	var buf bytes.Buffer
	if _, err := c.Node(0).Export(context.Background(), &buf, node.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	file := buf.Bytes()
	flipped := bytes.Clone(file)
	flipped[len(flipped)-10] ^= 0x40
	for name, in := range map[string][]byte{
		"truncated":  file[:len(file)-3],
		"damaged":    flipped,
		"not export": []byte("hello world, this is not an export"),
		"empty":      nil,
	} {
		_, err := c.Node(1).Import(context.Background(), bytes.NewReader(in), node.ImportOptions{})
		if !errors.Is(err, node.ErrInvalidArgument) {
			t.Errorf("%s: %v, want ErrInvalidArgument", name, err)
		}
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

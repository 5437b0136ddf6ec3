package wire

import (
	"bytes"
	"errors"
	"testing"

	"github.com/grapevine-kv/grapevine/crdt"
	"google.golang.org/protobuf/encoding/protowire"
)

func sampleBatch() Batch {
	c, _ := crdt.Counter{}.Increment("peer-b", -7)
	return Batch{Namespace: "default", Deltas: []Delta{
		{Key: []byte("a"), State: crdt.Register{Time: crdt.NewTimestamp(1700000000000, 3), Origin: "peer-a", Value: []byte("hello")}},
		{Key: []byte("gone"), State: crdt.Register{Time: 42, Origin: "peer-a", Deleted: true}},
		{Key: []byte("hits"), State: c},
	}}
}

func TestRoundTrip(t *testing.T) {
	in := sampleBatch()
	enc := in.Marshal()
	out, err := Unmarshal(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Marshal(), enc) {
		t.Fatalf("re-encoding differs")
	}
	if out.Namespace != in.Namespace || len(out.Deltas) != len(in.Deltas) {
		t.Fatalf("got %+v", out)
	}
	size := len(AppendHeader(nil, in.Namespace))
	for _, d := range in.Deltas {
		size += DeltaSize(d.Key, crdt.Encode(d.State))
	}
	if size != len(enc) {
		t.Fatalf("DeltaSize sums to %d, encoding is %d bytes", size, len(enc))
	}
}

func TestUnknownFieldsSkipped(t *testing.T) {
	enc := sampleBatch().Marshal()
	enc = protowire.AppendTag(enc, 9, protowire.VarintType)
	enc = protowire.AppendVarint(enc, 5)
	if _, err := Unmarshal(enc); err != nil {
		t.Fatalf("unknown field: %v", err)
	}
}

func TestUnmarshalRejects(t *testing.T) {
	state := crdt.Encode(crdt.Register{Time: 1, Origin: "o", Value: []byte("v")})
	cases := map[string][]byte{
		"empty":             nil,
		"no namespace":      AppendDelta(nil, []byte("k"), state),
		"empty key":         AppendDelta(AppendHeader(nil, "default"), nil, state),
		"bad state":         AppendDelta(AppendHeader(nil, "default"), []byte("k"), []byte{1, 9}),
		"truncated":         AppendDelta(AppendHeader(nil, "default"), []byte("k"), state)[:12],
		"namespace twice":   AppendHeader(AppendHeader(nil, "a"), "b"),
		"oversized key":     AppendDelta(AppendHeader(nil, "default"), make([]byte, MaxKeyLen+1), state),
		"garbage":           {0xff, 0xff, 0xff},
		"empty namespace":   AppendHeader(nil, ""),
		"delta no state":    append(AppendHeader(nil, "default"), 0x12, 0x03, 0x0a, 0x01, 'k'),
		"namespace too big": AppendHeader(nil, string(make([]byte, MaxNamespaceLen+1))),
	}
	for name, in := range cases {
		if _, err := Unmarshal(in); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
}

func FuzzUnmarshal(f *testing.F) {
	f.Add(sampleBatch().Marshal())
	f.Add([]byte{})
	f.Add(AppendHeader(nil, "default"))
	f.Add(AppendTxn(AppendHeader(nil, "default")))
	f.Fuzz(func(t *testing.T, b []byte) {
		bt, err := Unmarshal(b)
		if err != nil {
			return
		}
		again, err := Unmarshal(bt.Marshal())
		if err != nil {
			t.Fatalf("re-decoding a decoded batch: %v", err)
		}
		if !bytes.Equal(again.Marshal(), bt.Marshal()) {
			t.Fatal("unstable encoding")
		}
	})
}

// TestNamespacesTopicIsNoNamespaceTopic: the namespaces topic has a slash
// after its last name, which no namespace name has, so no namespace's
// topic (not even one named "_namespaces") is the namespaces topic.
func TestNamespacesTopicIsNoNamespaceTopic(t *testing.T) {
	if got := NamespacesTopic("alpha"); got != "/grapevine/alpha/_namespaces/1" {
		t.Errorf("NamespacesTopic(alpha) = %q", got)
	}
	for _, ns := range []string{"_namespaces", "_namespaces.1", "default"} {
		if Topic("alpha", ns) == NamespacesTopic("alpha") {
			t.Errorf("namespace %q has the namespaces topic", ns)
		}
	}
}

package wire

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/grapevine-kv/grapevine/crdt"
	"google.golang.org/protobuf/encoding/protowire"
)

func readFrames(t *testing.T, in []byte) []Frame {
	t.Helper()
	r := bufio.NewReader(bytes.NewReader(in))
	var out []Frame
	var buf []byte
	for {
		f, err := ReadFrame(r, buf)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("frame %d: %v", len(out), err)
		}
		buf = f.Payload
		f.Payload = slices.Clone(f.Payload)
		out = append(out, f)
	}
}

func TestFrameRoundTrip(t *testing.T) {
	big := bytes.Repeat([]byte("s"), 300<<10) // a length of several varint bytes
	want := []Frame{
		{Kind: FrameHello, Payload: AppendHello(nil, []string{"default", "other"})},
		{Kind: FrameEnd, Payload: []byte{}},
		{Kind: FrameStates, Payload: big},
		{Kind: FrameError, Payload: []byte("busy")},
		{Kind: 99, Payload: []byte{0}}, // kinds are the caller's to check
	}
	var stream []byte
	for _, f := range want {
		stream = AppendFrame(stream, f.Kind, f.Payload)
	}
	got := readFrames(t, stream)
	if len(got) != len(want) {
		t.Fatalf("read %d frames, wrote %d", len(got), len(want))
	}
	total := 0
	for i, f := range got {
		if f.Kind != want[i].Kind || !bytes.Equal(f.Payload, want[i].Payload) {
			t.Errorf("frame %d = kind %d, %d bytes; want kind %d, %d bytes", i, f.Kind, len(f.Payload), want[i].Kind, len(want[i].Payload))
		}
		if hdr := len(AppendFrameHeader(nil, f.Kind, len(f.Payload))); f.Size != hdr+len(f.Payload) {
			t.Errorf("frame %d: Size %d, header %d + payload %d", i, f.Size, hdr, len(f.Payload))
		}
		total += f.Size
	}
	if total != len(stream) {
		t.Errorf("sizes add up to %d, stream is %d bytes", total, len(stream))
	}
}

func TestFrameLimit(t *testing.T) {
	atLimit := AppendFrame(nil, FrameStates, make([]byte, MaxFrameSize-1))
	if f := readFrames(t, atLimit); len(f) != 1 || len(f[0].Payload) != MaxFrameSize-1 {
		t.Fatal("a frame of exactly MaxFrameSize was not read whole")
	}
	cases := map[string][]byte{
		"one byte over the limit": AppendFrameHeader(nil, FrameStates, MaxFrameSize),
		"length 2^40":             binary.AppendUvarint(nil, 1<<40),
		"zero length":             {0},
		"varint overflow":         bytes.Repeat([]byte{0xff}, 11),
		"varint overflow, last":   append(bytes.Repeat([]byte{0xff}, 9), 0x02),
		"non-minimal length":      {0x82, 0x00, byte(FrameEnd), 0},
	}
	for name, in := range cases {
		// Only the header is there: the limit must be checked before
		// the payload is awaited or allocated.
		_, err := ReadFrame(bufio.NewReader(bytes.NewReader(in)), nil)
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
}

// TestStatesFrameLimit: a states frame may be as large as its reader's
// limit (one state of its largest value), clamped to MaxStatesFrame; a
// frame of any other kind stays bounded by MaxFrameSize; both are checked
// from the header alone.
func TestStatesFrameLimit(t *testing.T) {
	if got := StatesFrameLimit(1 << 20); got != MaxFrameSize {
		t.Errorf("StatesFrameLimit(1 MiB) = %d, want MaxFrameSize", got)
	}
	if got := StatesFrameLimit(16 << 20); got != 16<<20+StateOverhead {
		t.Errorf("StatesFrameLimit(16 MiB) = %d", got)
	}
	if got := StatesFrameLimit(1 << 30); got != MaxStatesFrame {
		t.Errorf("StatesFrameLimit(1 GiB) = %d, want MaxStatesFrame", got)
	}
	limit := StatesFrameLimit(6 << 20)
	value := make([]byte, 6<<20)
	state := Batch{Namespace: "default", Deltas: []Delta{{Key: make([]byte, MaxKeyLen), State: crdt.Register{Time: 1, Origin: crdt.ReplicaID(strings.Repeat("o", 64)), Value: value}}}}.Marshal()
	in := AppendFrame(nil, FrameStates, state)
	f, err := ReadFrameLimit(bufio.NewReader(bytes.NewReader(in)), nil, limit)
	if err != nil || len(f.Payload) != len(state) {
		t.Fatalf("a state of a 6 MiB value in a frame of limit %d: %v", limit, err)
	}
	if _, err := ReadFrame(bufio.NewReader(bytes.NewReader(in)), nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("ReadFrame read a states frame over MaxFrameSize: %v", err)
	}
	for name, in := range map[string][]byte{
		"states over the limit":       AppendFrameHeader(nil, FrameStates, limit),
		"states over the hard limit":  AppendFrameHeader(nil, FrameStates, MaxStatesFrame),
		"hello over MaxFrameSize":     AppendFrameHeader(nil, FrameHello, MaxFrameSize),
		"reconcile over MaxFrameSize": AppendFrameHeader(nil, FrameReconcile, MaxFrameSize),
	} {
		if _, err := ReadFrameLimit(bufio.NewReader(bytes.NewReader(in)), nil, limit); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
	// A limit beyond the hard maximum is clamped.
	in = AppendFrameHeader(nil, FrameStates, MaxStatesFrame)
	if _, err := ReadFrameLimit(bufio.NewReader(bytes.NewReader(in)), nil, 1<<40); !errors.Is(err, ErrMalformed) {
		t.Errorf("limit not clamped to MaxStatesFrame: %v", err)
	}
}

func TestHelloStatesLimit(t *testing.T) {
	plain := AppendHello(nil, []string{"default"})
	if got, err := HelloStatesLimit(plain); err != nil || got != MaxFrameSize {
		t.Errorf("hello without a limit: %d, %v; want MaxFrameSize", got, err)
	}
	for stated, want := range map[int]int{
		StatesFrameLimit(16 << 20): 16<<20 + StateOverhead,
		1:                          MaxFrameSize,
		1 << 40:                    MaxStatesFrame,
	} {
		enc := AppendHelloStatesLimit(slices.Clone(plain), stated)
		got, err := HelloStatesLimit(enc)
		if err != nil || got != want {
			t.Errorf("stated %d: got %d, %v; want %d", stated, got, err, want)
		}
		// An older peer reads the same hello: the field is skipped.
		if ns, err := UnmarshalHello(enc); err != nil || !slices.Equal(ns, []string{"default"}) {
			t.Errorf("UnmarshalHello of a hello with a limit: %q, %v", ns, err)
		}
	}
	truncated := AppendHelloStatesLimit(nil, 1<<30)
	if _, err := HelloStatesLimit(truncated[:len(truncated)-1]); !errors.Is(err, ErrMalformed) {
		t.Errorf("truncated limit: err = %v, want ErrMalformed", err)
	}
}

func TestFrameTruncated(t *testing.T) {
	full := AppendFrame(nil, FrameHello, AppendHello(nil, []string{"default"}))
	if _, err := ReadFrame(bufio.NewReader(bytes.NewReader(nil)), nil); err != io.EOF {
		t.Errorf("empty stream: err = %v, want io.EOF", err)
	}
	for n := 1; n < len(full); n++ {
		_, err := ReadFrame(bufio.NewReader(bytes.NewReader(full[:n])), nil)
		if err != io.ErrUnexpectedEOF {
			t.Errorf("frame cut after %d of %d bytes: err = %v, want io.ErrUnexpectedEOF", n, len(full), err)
		}
	}
}

func TestHello(t *testing.T) {
	want := []string{"default", "a", strings.Repeat("n", MaxNamespaceLen)}
	enc := AppendHello(nil, want)
	enc = protowire.AppendTag(enc, 9, protowire.VarintType) // unknown field: skipped
	enc = protowire.AppendVarint(enc, 5)
	got, err := UnmarshalHello(enc)
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("UnmarshalHello = %q, %v; want %q", got, err, want)
	}
	if got, err := UnmarshalHello(nil); err != nil || len(got) != 0 {
		t.Fatalf("empty hello = %q, %v", got, err)
	}
	many := make([]string, MaxHelloNamespaces)
	for i := range many {
		many[i] = "ns"
	}
	if _, err := UnmarshalHello(AppendHello(nil, many)); err != nil {
		t.Fatalf("hello of MaxHelloNamespaces: %v", err)
	}
	cases := map[string][]byte{
		"too many namespaces": AppendHello(nil, append(many, "ns")),
		"empty namespace":     AppendHello(nil, []string{""}),
		"namespace too long":  AppendHello(nil, []string{strings.Repeat("n", MaxNamespaceLen+1)}),
		"truncated":           AppendHello(nil, []string{"default"})[:5],
		"garbage":             {0xff, 0xff, 0xff},
		"bad unknown field":   protowire.AppendTag(nil, 9, protowire.BytesType),
	}
	for name, in := range cases {
		if _, err := UnmarshalHello(in); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
}

// fuzzStatesLimit is the states frame limit of FuzzSyncStream's reader: a
// little above MaxFrameSize, so that both bounds are exercised.
const fuzzStatesLimit = MaxFrameSize + 1<<20

// FuzzSyncStream reads a sync stream's frames and decodes each hello: no
// input may panic or allocate past the limit, every frame read re-encodes
// to the bytes it came from, and a decoded hello re-encodes stably.
func FuzzSyncStream(f *testing.F) {
	hello := AppendFrame(nil, FrameHello, AppendHello(nil, []string{"default", "other"}))
	f.Add(hello)
	f.Add(AppendFrame(slices.Clone(hello), FrameStates, sampleBatch().Marshal()))
	f.Add(AppendFrame(nil, FrameEnd, nil))
	f.Add([]byte{0})
	f.Add(AppendFrameHeader(nil, FrameStates, MaxFrameSize))
	f.Add(binary.AppendUvarint(nil, 1<<40))
	f.Add(AppendFrame(nil, FrameHello, []byte{0xff, 0x01}))
	f.Add(AppendFrame(nil, FrameHello, AppendHelloStatesLimit(AppendHello(nil, []string{"a"}), 16<<20)))
	f.Add(AppendFrameHeader(nil, FrameStates, fuzzStatesLimit))
	f.Add(AppendFrameHeader(nil, FrameHello, MaxFrameSize+1))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bufio.NewReader(bytes.NewReader(in))
		var buf []byte
		off := 0
		for {
			fr, err := ReadFrameLimit(r, buf, fuzzStatesLimit)
			if err != nil {
				if err != io.EOF && err != io.ErrUnexpectedEOF && !errors.Is(err, ErrMalformed) {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			buf = fr.Payload
			if limit := map[bool]int{true: fuzzStatesLimit, false: MaxFrameSize}[fr.Kind == FrameStates]; fr.Size > limit+binary.MaxVarintLen64 {
				t.Fatalf("frame of kind %d of %d bytes read (limit %d)", fr.Kind, fr.Size, limit)
			}
			if got := in[off : off+fr.Size]; !bytes.Equal(got, AppendFrame(nil, fr.Kind, fr.Payload)) {
				t.Fatalf("frame at %d does not re-encode to its bytes", off)
			}
			off += fr.Size
			if fr.Kind != FrameHello {
				continue
			}
			if l, err := HelloStatesLimit(fr.Payload); err == nil && (l < MaxFrameSize || l > MaxStatesFrame) {
				t.Fatalf("hello states limit %d out of bounds", l)
			}
			ns, err := UnmarshalHello(fr.Payload)
			if err != nil {
				continue
			}
			again, err := UnmarshalHello(AppendHello(nil, ns))
			if err != nil || !slices.Equal(again, ns) {
				t.Fatalf("hello %q re-decodes as %q, %v", ns, again, err)
			}
		}
	})
}

func TestProtocolNetwork(t *testing.T) {
	if got := SyncProtocol("alpha"); got != "/grapevine/alpha/sync/1" {
		t.Errorf("SyncProtocol(alpha) = %q", got)
	}
	for id, want := range map[string]string{
		"/grapevine/alpha/sync/1":      "alpha",
		"/grapevine/beta/kad/1.0.0":    "beta",
		"/grapevine/kad/1.0.0":         "", // the DHT of releases without networks
		"/grapevine/sync/1":            "",
		"/ipfs/kad/1.0.0":              "",
		"/grapevine//sync/1":           "",
		"/meshsub/1.1.0":               "",
		SyncProtocol("x.y_z-1"):        "x.y_z-1",
		ProtocolPrefix("n") + "/a/b/c": "n",
	} {
		got, ok := ProtocolNetwork(id)
		if got != want || ok != (want != "") {
			t.Errorf("ProtocolNetwork(%q) = %q, %v; want %q", id, got, ok, want)
		}
	}
}

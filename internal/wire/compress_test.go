package wire

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/s2"

	"github.com/grapevine-kv/grapevine/crdt"
)

func TestHelloS2(t *testing.T) {
	b := AppendHelloPlans(AppendHelloStatesLimit(AppendHello(nil, []string{"a"}), MaxFrameSize))
	if ok, err := HelloS2(b); err != nil || ok {
		t.Fatalf("HelloS2(without field 6) = %v, %v; want false, nil", ok, err)
	}
	b = AppendHelloS2(b)
	if ok, err := HelloS2(b); err != nil || !ok {
		t.Fatalf("HelloS2 = %v, %v; want true, nil", ok, err)
	}
	if ok, err := HelloPlans(b); err != nil || !ok {
		t.Fatalf("HelloPlans beside field 6 = %v, %v", ok, err)
	}
	if _, err := HelloS2([]byte{0x30}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("truncated field 6: %v, want ErrMalformed", err)
	}
}

// A chunk of registers (16-byte keys, random 100-byte values, one writer)
// compresses to about its keys and values, and decompresses to itself.
func TestCompressStates(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	origin := crdt.ReplicaID(bytes.Repeat([]byte{7}, 38))
	b := Batch{Namespace: "default"}
	payload := 0
	for i := range 1000 {
		v := make([]byte, 100)
		for j := range v {
			v[j] = byte(rng.Uint32())
		}
		key := fmt.Appendf(nil, "key-%012d", i)
		b.Deltas = append(b.Deltas, Delta{Key: key, State: crdt.Register{Time: crdt.NewTimestamp(1_700_000_000_000+int64(i), 0), Origin: origin, Value: v}})
		payload += len(key) + len(v)
	}
	p := b.Marshal()
	kind, c := CompressStates(nil, p)
	if kind != FrameStatesS2 {
		t.Fatalf("a chunk of registers was not compressed (%d bytes)", len(p))
	}
	ratio := float64(len(c)) / float64(payload)
	t.Logf("%d states: %d bytes, compressed %d: %.3f× the keys and values", len(b.Deltas), len(p), len(c), ratio)
	if ratio > 1.2 {
		t.Errorf("compressed states are %.3f× the keys and values, want ≤ 1.2×", ratio)
	}
	got, err := StatesPayload(kind, c, nil, len(p))
	if err != nil || !bytes.Equal(got, p) {
		t.Fatalf("StatesPayload: %d bytes, %v; want the %d bytes compressed", len(got), err, len(p))
	}
	if _, err := StatesPayload(kind, c, nil, len(p)-1); !errors.Is(err, ErrMalformed) {
		t.Errorf("decoding beyond the limit: %v, want ErrMalformed", err)
	}
	if k, out := CompressStates(nil, []byte{1, 2, 3}); k != FrameStates || !bytes.Equal(out, []byte{1, 2, 3}) {
		t.Errorf("an incompressible payload: kind %d, %v; want it sent as is", k, out)
	}
	if got, err := StatesPayload(FrameStates, p, nil, 0); err != nil || !bytes.Equal(got, p) {
		t.Errorf("a plain states payload is returned as is: %v", err)
	}
	if _, err := StatesPayload(FrameStatesS2, []byte("not s2 at all"), nil, MaxFrameSize); !errors.Is(err, ErrMalformed) {
		t.Errorf("garbage: %v, want ErrMalformed", err)
	}
}

// A compressed frame that claims a huge decoded size is refused before
// anything is allocated for it.
func TestCompressedBombRefused(t *testing.T) {
	bomb := s2.Encode(nil, make([]byte, 8<<20)) // 8 MiB of zeros in a few hundred bytes
	if _, err := StatesPayload(FrameStatesS2, bomb, nil, MaxFrameSize); !errors.Is(err, ErrMalformed) {
		t.Fatalf("a %d-byte frame decoding to 8 MiB: %v, want ErrMalformed", len(bomb), err)
	}
}

func FuzzStatesPayload(f *testing.F) {
	f.Add(s2.Encode(nil, Batch{Namespace: "n", Deltas: []Delta{{Key: []byte("k"), State: crdt.Register{Time: 1, Value: []byte("v")}}}}.Marshal()))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, p []byte) {
		out, err := StatesPayload(FrameStatesS2, p, nil, 1<<16)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if len(out) > 1<<16 {
			t.Fatalf("decoded %d bytes beyond the limit", len(out))
		}
		_, _ = Unmarshal(out) // what the receiver does next must not panic either
	})
}

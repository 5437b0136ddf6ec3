package wire

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/grapevine-kv/grapevine/crdt"
)

func sampleExport(tb testing.TB) []byte {
	tb.Helper()
	var buf bytes.Buffer
	ew, err := NewExportWriter(&buf, ExportHeader{Peer: "p", Namespaces: []string{"a", "default"}})
	if err != nil {
		tb.Fatal(err)
	}
	reg := crdt.Register{Time: 5, Origin: "o", Value: []byte("v")}
	tomb := crdt.Register{Time: 6, Origin: "o", Deleted: true}
	for _, r := range []struct {
		ns  string
		key string
		st  crdt.State
	}{{"a", "k", reg}, {"default", "t", tomb}} {
		if err := ew.WriteEncoded(r.ns, r.st.Type(), []byte(r.key), crdt.Encode(r.st)); err != nil {
			tb.Fatal(err)
		}
	}
	if err := ew.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// readAll decodes an export whole, re-encoding it with the same header.
func readAll(in []byte) ([]byte, error) {
	er, err := NewExportReader(bytes.NewReader(in))
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	ew, err := NewExportWriter(&out, er.Header())
	if err != nil {
		return nil, err
	}
	for {
		rec, err := er.Next()
		if err == io.EOF {
			err := ew.Close()
			return out.Bytes(), err
		}
		if err != nil {
			return nil, err
		}
		if err := ew.WriteEncoded(rec.Namespace, rec.State.Type(), rec.Key, crdt.Encode(rec.State)); err != nil {
			return nil, err
		}
	}
}

func TestExportRoundTrip(t *testing.T) {
	in := sampleExport(t)
	out, err := readAll(in)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(in, out) {
		t.Fatalf("re-encoded export differs:\n%q\n%q", in, out)
	}
}

func TestExportRefusesBadInput(t *testing.T) {
	in := sampleExport(t)
	for name, bad := range map[string][]byte{
		"cut":      in[:len(in)-2],
		"no end":   in[:len(in)-7],
		"trailing": append(bytes.Clone(in), 0),
		"flipped":  append(bytes.Clone(in[:len(in)-12]), append([]byte{in[len(in)-12] ^ 1}, in[len(in)-11:]...)...),
		"other":    []byte("\x05hello"),
	} {
		_, err := readAll(bad)
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrExportTruncated) {
			t.Errorf("%s: %v, want malformed or truncated", name, err)
		}
	}
}

// FuzzExport: any input either decodes to an export that re-encodes to
// the same bytes or fails with a clean error, never a panic.
func FuzzExport(f *testing.F) {
	in := sampleExport(f)
	f.Add(in)
	f.Add(in[:len(in)-3])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := readAll(b)
		if err != nil {
			return
		}
		again, err := readAll(out)
		if err != nil {
			t.Fatalf("re-encoded export does not decode: %v", err)
		}
		if !bytes.Equal(again, out) {
			t.Fatalf("re-encoding is not stable")
		}
	})
}

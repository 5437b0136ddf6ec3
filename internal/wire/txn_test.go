package wire

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

func TestTxnFlagRoundTrip(t *testing.T) {
	in := sampleBatch()
	in.Txn = true
	out, err := Unmarshal(in.Marshal())
	if err != nil || !out.Txn || len(out.Deltas) != len(in.Deltas) {
		t.Fatalf("Unmarshal = %+v, %v; want a txn of %d deltas", out, err, len(in.Deltas))
	}
	plain, err := Unmarshal(sampleBatch().Marshal())
	if err != nil || plain.Txn {
		t.Fatalf("a plain batch decoded as txn=%t, %v", plain.Txn, err)
	}
	bad := protowire.AppendVarint(protowire.AppendTag(AppendHeader(nil, "default"), 3, protowire.VarintType), 2)
	if _, err := Unmarshal(bad); !errors.Is(err, ErrMalformed) {
		t.Fatalf("txn flag 2: %v, want ErrMalformed", err)
	}
}

package wire

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func TestForwardRoundTrip(t *testing.T) {
	req := ForwardRequest{Op: ForwardIncr, Namespace: "tenant-7", Key: []byte("k"), Value: []byte("v"), By: -3}
	got, err := UnmarshalForwardRequest(req.Marshal())
	if err != nil || !reflect.DeepEqual(got, req) {
		t.Fatalf("request round trip: got %+v, %v; want %+v", got, err, req)
	}
	resp := ForwardResponse{Status: 3, Error: "node: key not found", Value: []byte("x"), Version: 1 << 40, Origin: "12D3", ExpiresMillis: 99, Counter: -7}
	gotR, err := UnmarshalForwardResponse(resp.Marshal())
	if err != nil || !reflect.DeepEqual(gotR, resp) {
		t.Fatalf("response round trip: got %+v, %v; want %+v", gotR, err, resp)
	}
}

// TestForwardRoundTripAllOps: every field of every op survives a round trip.
func TestForwardRoundTripAllOps(t *testing.T) {
	cond := ForwardCond{IfVersion: 1 << 50, IfAbsent: true, TTLNanos: 1500}
	for _, req := range []ForwardRequest{
		{Op: ForwardList, Namespace: "a", Prefix: []byte("p/"), After: []byte("p/3"), Limit: 50},
		{Op: ForwardSetAdd, Namespace: "a", Key: []byte("s"), Members: [][]byte{[]byte("x"), []byte("y")}},
		{Op: ForwardPut, Namespace: "a", Key: []byte("k"), Value: []byte("v"), ForwardCond: cond},
		{Op: ForwardTxn, Namespace: "a", Txn: []ForwardTxnOp{
			{Kind: 1, Key: []byte("k"), Value: []byte("v"), ForwardCond: cond},
			{Kind: 3, Key: []byte("n"), By: -2},
		}},
	} {
		got, err := UnmarshalForwardRequest(req.Marshal())
		if err != nil || !reflect.DeepEqual(got, req) {
			t.Fatalf("request round trip: got %+v, %v; want %+v", got, err, req)
		}
	}
	resp := ForwardResponse{
		Status: 2, Error: "node: precondition failed", Version: 7,
		Entries: []ForwardEntry{
			{Key: []byte("k"), Type: 1, Value: []byte("v"), Version: 9, Origin: "o", ExpiresMillis: 5},
			{Key: []byte("n"), Type: 2, Counter: -4},
			{Key: []byte("s"), Type: 3, Members: [][]byte{[]byte("m")}},
		},
		Next: []byte("s"), Types: []uint8{1, 3}, Members: [][]byte{[]byte("a"), []byte("b")}, Contains: true,
		Txn:     []ForwardTxnResult{{Version: 3}, {Counter: -1}},
		CondKey: []byte("k"), CondWant: "absence", CondOp: "op 1 (put)",
	}
	got, err := UnmarshalForwardResponse(resp.Marshal())
	if err != nil || !reflect.DeepEqual(got, resp) {
		t.Fatalf("response round trip: got %+v, %v; want %+v", got, err, resp)
	}
}

func TestForwardRequestRefused(t *testing.T) {
	for name, r := range map[string]ForwardRequest{
		"no op":        {Namespace: "a", Key: []byte("k")},
		"unknown op":   {Op: 99, Namespace: "a", Key: []byte("k")},
		"no namespace": {Op: ForwardGet, Key: []byte("k")},
		"no key":       {Op: ForwardGet, Namespace: "a"},
		"long key":     {Op: ForwardGet, Namespace: "a", Key: make([]byte, MaxKeyLen+1)},
		"list key":     {Op: ForwardList, Namespace: "a", Key: []byte("k")},
		"txn no key":   {Op: ForwardTxn, Namespace: "a", Txn: []ForwardTxnOp{{Kind: 1}}},
	} {
		if _, err := UnmarshalForwardRequest(r.Marshal()); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: got %v, want ErrMalformed", name, err)
		}
	}
}

func TestHelloPatterns(t *testing.T) {
	b := AppendHelloPatterns(AppendHello(nil, []string{"a"}), []string{"tenant-*", "b"})
	got, err := HelloPatterns(b)
	if err != nil || !reflect.DeepEqual(got, []string{"tenant-*", "b"}) {
		t.Fatalf("got %v, %v", got, err)
	}
	if got, _ := HelloPatterns(AppendHelloPatterns(nil, []string{"*"})); got != nil {
		t.Fatalf("\"*\" alone should say nothing, got %v", got)
	}
	if _, err := HelloPatterns(AppendHelloPatterns(nil, []string{"[a"})); !errors.Is(err, ErrMalformed) {
		t.Fatalf("a malformed pattern: got %v", err)
	}
	for ns, want := range map[string]bool{"tenant-1": true, "b": true, "c": false} {
		if MatchNamespace([]string{"tenant-*", "b"}, ns) != want {
			t.Errorf("MatchNamespace(%q) != %v", ns, want)
		}
	}
	if !MatchNamespace(nil, "anything") {
		t.Error("no patterns should match every namespace")
	}
}

// FuzzForward decodes forwarded requests, answers and hello patterns: no
// input may panic, and what decodes re-encodes to something that decodes
// to the same value.
func FuzzForward(f *testing.F) {
	f.Add(ForwardRequest{Op: ForwardPut, Namespace: "a", Key: []byte("k"), Value: []byte("v"), By: 1}.Marshal())
	f.Add(ForwardResponse{Status: 1, Error: "e", Value: []byte("v"), Version: 5, Origin: "o", Counter: -1}.Marshal())
	f.Add(AppendHelloPatterns(nil, []string{"a-*", "b"}))
	f.Add(ForwardRequest{Op: ForwardTxn, Namespace: "a", Txn: []ForwardTxnOp{{Kind: 1, Key: []byte("k"), ForwardCond: ForwardCond{IfAbsent: true, TTLNanos: 9}}}}.Marshal())
	f.Add(ForwardRequest{Op: ForwardList, Namespace: "a", Prefix: []byte("p"), After: []byte("q"), Limit: 3, Members: [][]byte{{1}}}.Marshal())
	f.Add(ForwardResponse{Entries: []ForwardEntry{{Key: []byte("k"), Type: 3, Members: [][]byte{{1}}}}, Next: []byte("k"), Types: []uint8{1}, Contains: true, Txn: []ForwardTxnResult{{Version: 1, Counter: 2}}, CondKey: []byte("k"), CondWant: "w", CondOp: "o"}.Marshal())
	f.Add([]byte{0xff, 0x01})
	f.Fuzz(func(t *testing.T, in []byte) {
		if r, err := UnmarshalForwardRequest(in); err == nil {
			again, err := UnmarshalForwardRequest(r.Marshal())
			if err != nil || !bytes.Equal(again.Marshal(), r.Marshal()) {
				t.Fatalf("request %+v does not round-trip: %+v, %v", r, again, err)
			}
		} else if !errors.Is(err, ErrMalformed) {
			t.Fatalf("request: unexpected error %v", err)
		}
		if r, err := UnmarshalForwardResponse(in); err == nil {
			again, err := UnmarshalForwardResponse(r.Marshal())
			if err != nil || !bytes.Equal(again.Marshal(), r.Marshal()) {
				t.Fatalf("response %+v does not round-trip: %+v, %v", r, again, err)
			}
		} else if !errors.Is(err, ErrMalformed) {
			t.Fatalf("response: unexpected error %v", err)
		}
		if ps, err := HelloPatterns(in); err == nil {
			for _, p := range ps {
				if ValidPattern(p) != nil {
					t.Fatalf("invalid pattern %q decoded", p)
				}
			}
		} else if !errors.Is(err, ErrMalformed) {
			t.Fatalf("patterns: unexpected error %v", err)
		}
	})
}

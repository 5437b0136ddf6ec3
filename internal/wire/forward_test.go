package wire

import (
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

func TestForwardRequestRefused(t *testing.T) {
	for name, r := range map[string]ForwardRequest{
		"no op":        {Namespace: "a", Key: []byte("k")},
		"unknown op":   {Op: 99, Namespace: "a", Key: []byte("k")},
		"no namespace": {Op: ForwardGet, Key: []byte("k")},
		"no key":       {Op: ForwardGet, Namespace: "a"},
		"long key":     {Op: ForwardGet, Namespace: "a", Key: make([]byte, MaxKeyLen+1)},
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
	f.Add([]byte{0xff, 0x01})
	f.Fuzz(func(t *testing.T, in []byte) {
		if r, err := UnmarshalForwardRequest(in); err == nil {
			again, err := UnmarshalForwardRequest(r.Marshal())
			if err != nil || !reflect.DeepEqual(normReq(again), normReq(r)) {
				t.Fatalf("request %+v does not round-trip: %+v, %v", r, again, err)
			}
		} else if !errors.Is(err, ErrMalformed) {
			t.Fatalf("request: unexpected error %v", err)
		}
		if r, err := UnmarshalForwardResponse(in); err == nil {
			again, err := UnmarshalForwardResponse(r.Marshal())
			if err != nil || !reflect.DeepEqual(normResp(again), normResp(r)) {
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

// normReq and normResp make empty and nil byte slices equal, and drop an
// error text without a status (Marshal writes it only with one).
func normReq(r ForwardRequest) ForwardRequest {
	if len(r.Value) == 0 {
		r.Value = nil
	}
	return r
}

func normResp(r ForwardResponse) ForwardResponse {
	if len(r.Value) == 0 {
		r.Value = nil
	}
	if r.Status == 0 {
		r.Error = ""
	}
	return r
}

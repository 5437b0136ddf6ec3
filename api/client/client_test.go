package client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/grapevine-kv/grapevine/api/apitype"
)

func deadEndpoint(t *testing.T) string {
	t.Helper()
	dead := httptest.NewServer(http.NotFoundHandler())
	addr := dead.Listener.Addr().String()
	dead.Close()
	return addr
}

func TestUnreachable(t *testing.T) {
	c, err := New([]string{deadEndpoint(t)}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(context.Background(), "k"); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("err = %v, want ErrUnreachable", err)
	}
}

// TestNoFailoverOnceReached: a request that reached a daemon is never sent
// to another, even if it failed, so an increment is applied at most once.
func TestNoFailoverOnceReached(t *testing.T) {
	var first, second atomic.Int32
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		first.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"code":"unavailable","message":"the peer is shutting down"}`))
	}))
	defer failing.Close()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		second.Add(1)
		_, _ = w.Write([]byte(`{"key":"c","value":1}`))
	}))
	defer other.Close()
	c, err := New([]string{deadEndpoint(t), failing.URL, other.URL}, "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Incr(context.Background(), "c", 1)
	var e *apitype.Error
	if !errors.As(err, &e) || e.Status != http.StatusServiceUnavailable || !errors.Is(err, apitype.ErrUnavailable) {
		t.Fatalf("Incr: %v, want the 503 unavailable of the daemon it reached", err)
	}
	if first.Load() != 1 || second.Load() != 0 {
		t.Fatalf("requests: %d to the failing daemon, %d to the next; want 1 and 0", first.Load(), second.Load())
	}
}

// TestErrorCodes: every code maps back to its sentinel, and an answer that
// is not a JSON error is internal.
func TestErrorCodes(t *testing.T) {
	for _, code := range []string{apitype.CodeNotFound, apitype.CodeInvalidKey, apitype.CodeOverflow, apitype.CodeNoPeers} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"code":"` + code + `","message":"m"}`))
		}))
		c, _ := New([]string{srv.URL}, "")
		_, err := c.Get(context.Background(), "k")
		srv.Close()
		if want := apitype.CodeError(code); want == nil || !errors.Is(err, want) {
			t.Errorf("code %s: err %v does not match %v", code, err, want)
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "proxy says no", http.StatusBadGateway)
	}))
	defer srv.Close()
	c, _ := New([]string{srv.URL}, "")
	if _, err := c.Get(context.Background(), "k"); !errors.Is(err, apitype.ErrInternal) {
		t.Errorf("a non-JSON answer: %v, want internal", err)
	}
}

// TestWithHTTPClient: the requests go through the given http.Client.
func TestWithHTTPClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(apitype.VersionHeader, "7")
	}))
	defer srv.Close()
	var sent atomic.Int32
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		sent.Add(1)
		return http.DefaultTransport.RoundTrip(r)
	})}
	c, err := New([]string{srv.URL}, "", WithHTTPClient(hc))
	if err != nil {
		t.Fatal(err)
	}
	if v, err := c.Put(context.Background(), "k", []byte("v")); err != nil || v != 7 {
		t.Fatalf("Put = %d, %v; want 7", v, err)
	}
	if sent.Load() != 1 {
		t.Fatalf("%d requests through the given client, want 1", sent.Load())
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

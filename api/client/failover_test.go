package client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// endpoint is a fake daemon that counts its requests.
type endpoint struct {
	url  string
	hits atomic.Int32
}

// fakeDaemon serves every request with status and body; status 0 hangs
// until the client gives up (a paused daemon).
func fakeDaemon(t *testing.T, status int, body string) *endpoint {
	t.Helper()
	e := &endpoint{}
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.hits.Add(1)
		if status == 0 {
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	e.url = srv.URL
	return e
}

const unavailable = `{"code":"unavailable","message":"the peer is shutting down"}`

// testCtx bounds a test's request far above the attempt timeout, so a
// client that did not bound its attempts fails instead of hanging.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newTestClient(t *testing.T, opts []Option, eps ...*endpoint) *Client {
	t.Helper()
	var urls []string
	for _, e := range eps {
		urls = append(urls, e.url)
	}
	c, err := New(urls, "", append([]Option{WithTimeout(100 * time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestFailoverRetriesSafeRequests: reads and unconditional puts and
// deletes go on to the next endpoint after a hung or failing one.
func TestFailoverRetriesSafeRequests(t *testing.T) {
	for _, bad := range []struct {
		name   string
		status int
	}{{"hung", 0}, {"503", http.StatusServiceUnavailable}, {"500", http.StatusInternalServerError}} {
		t.Run(bad.name, func(t *testing.T) {
			for _, op := range []struct {
				name string
				do   func(*Client) error
			}{
				{"get", func(c *Client) error { _, err := c.Get(testCtx(t), "k"); return err }},
				{"ls", func(c *Client) error { _, err := c.List(testCtx(t), ListOptions{}); return err }},
				{"put", func(c *Client) error { _, err := c.Put(testCtx(t), "k", []byte("v")); return err }},
				{"put with ttl", func(c *Client) error {
					_, err := c.PutWith(testCtx(t), "k", []byte("v"), WriteOptions{TTL: time.Minute})
					return err
				}},
				{"del", func(c *Client) error { return c.Delete(testCtx(t), "k") }},
				{"set add", func(c *Client) error { return c.SetAdd(testCtx(t), "s", []byte("m")) }},
			} {
				t.Run(op.name, func(t *testing.T) {
					first, second := fakeDaemon(t, bad.status, unavailable), fakeDaemon(t, 200, `{"entries":[]}`)
					if err := op.do(newTestClient(t, nil, first, second)); err != nil {
						t.Fatalf("%s with the first endpoint %s: %v, want the answer of the second", op.name, bad.name, err)
					}
					if first.hits.Load() != 1 || second.hits.Load() != 1 {
						t.Fatalf("requests: %d to the %s endpoint, %d to the next; want 1 and 1", first.hits.Load(), bad.name, second.hits.Load())
					}
				})
			}
		})
	}
}

// TestFailoverNeverRepeatsUnsafeRequests: an increment or a conditional
// write that may have reached a daemon is not sent to another.
func TestFailoverNeverRepeatsUnsafeRequests(t *testing.T) {
	for _, op := range []struct {
		name string
		do   func(*Client) error
	}{
		{"incr", func(c *Client) error { _, err := c.Incr(testCtx(t), "c", 1); return err }},
		{"put --cas", func(c *Client) error {
			_, err := c.PutWith(testCtx(t), "k", []byte("v"), WriteOptions{IfVersion: 7})
			return err
		}},
		{"del --cas", func(c *Client) error { return c.DeleteWith(testCtx(t), "k", WriteOptions{IfAbsent: true}) }},
	} {
		t.Run(op.name, func(t *testing.T) {
			hung, other := fakeDaemon(t, 0, ""), fakeDaemon(t, 200, `{"key":"c","value":1}`)
			err := op.do(newTestClient(t, nil, hung, other))
			if !errors.Is(err, ErrTimeout) {
				t.Fatalf("%s on a hung daemon: %v, want ErrTimeout", op.name, err)
			}
			if hung.hits.Load() != 1 || other.hits.Load() != 0 {
				t.Fatalf("requests: %d to the hung daemon, %d to the next; want 1 and 0", hung.hits.Load(), other.hits.Load())
			}
		})
	}
}

// TestAllEndpointsFailing: every endpoint hung gives ErrUnreachable naming
// the timeout.
func TestAllEndpointsFailing(t *testing.T) {
	c := newTestClient(t, nil, fakeDaemon(t, 0, ""), fakeDaemon(t, 0, ""))
	_, err := c.Get(testCtx(t), "k")
	if !errors.Is(err, ErrUnreachable) || !errors.Is(err, ErrTimeout) {
		t.Fatalf("Get with every endpoint hung: %v, want ErrUnreachable with ErrTimeout", err)
	}
}

// TestBalance: balanced reads go round-robin; writes stick to one
// endpoint; unbalanced reads stick too.
func TestBalance(t *testing.T) {
	eps := []*endpoint{fakeDaemon(t, 200, "v"), fakeDaemon(t, 200, "v"), fakeDaemon(t, 200, "v")}
	hits := func() [3]int32 { return [3]int32{eps[0].hits.Load(), eps[1].hits.Load(), eps[2].hits.Load()} }
	balanced := newTestClient(t, []Option{WithBalance()}, eps...)
	for range 6 {
		if _, err := balanced.Get(testCtx(t), "k"); err != nil {
			t.Fatal(err)
		}
	}
	if got := hits(); got != [3]int32{2, 2, 2} {
		t.Fatalf("6 balanced reads over 3 endpoints: %v, want 2 each", got)
	}
	for range 4 {
		if _, err := balanced.Put(testCtx(t), "k", []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if got := hits(); got != [3]int32{6, 2, 2} {
		t.Fatalf("4 writes after the reads: %v, want all on the first endpoint", got)
	}
	plain := newTestClient(t, nil, eps...)
	for range 3 {
		if _, err := plain.Get(testCtx(t), "k"); err != nil {
			t.Fatal(err)
		}
	}
	if got := hits(); got != [3]int32{9, 2, 2} {
		t.Fatalf("3 reads without balance: %v, want all on the first endpoint", got)
	}
}

// TestWritesStickAfterFailover: once a write failed over, the next ones
// go straight to the endpoint that answered.
func TestWritesStickAfterFailover(t *testing.T) {
	hung, good := fakeDaemon(t, 0, ""), fakeDaemon(t, 200, "")
	c := newTestClient(t, nil, hung, good)
	for range 3 {
		if _, err := c.Put(testCtx(t), "k", []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if hung.hits.Load() != 1 || good.hits.Load() != 3 {
		t.Fatalf("requests: %d to the hung daemon, %d to the good one; want 1 and 3", hung.hits.Load(), good.hits.Load())
	}
}

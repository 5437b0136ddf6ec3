package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/api/apitype"
	"github.com/grapevine-kv/grapevine/api/client"
	"github.com/grapevine-kv/grapevine/internal/testutil"
	"github.com/grapevine-kv/grapevine/node"
)

const testMaxValue = 1024

// newTestServer serves one in-memory test node.
func newTestServer(t *testing.T) (*httptest.Server, *node.Node) {
	t.Helper()
	return newHookServer(t, nil)
}

// newHookServer serves one in-memory test node with hooks' test endpoints
// and wall clock (none if hooks is nil).
func newHookServer(t *testing.T, hooks *TestHooks) (*httptest.Server, *node.Node) {
	t.Helper()
	n := newHookNode(t, hooks)
	s := NewServer(n, testMaxValue, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, o := range hooks.ServeOptions() {
		o(s)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv, n
}

func TestBadInput(t *testing.T) {
	srv, n := newTestServer(t)
	cases := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"empty key", "PUT", "/v1/kv/", "v", 400, apitype.CodeInvalidKey},
		{"control character", "PUT", "/v1/kv/a%01b", "v", 400, apitype.CodeInvalidKey},
		{"DEL in key", "PUT", "/v1/kv/a%7Fb", "v", 400, apitype.CodeInvalidKey},
		{"invalid UTF-8", "PUT", "/v1/kv/a%FFb", "v", 400, apitype.CodeInvalidKey},
		{"key too long", "PUT", "/v1/kv/" + strings.Repeat("k", node.MaxKeyLen+1), "v", 400, apitype.CodeInvalidKey},
		{"value too large", "PUT", "/v1/kv/big", strings.Repeat("v", testMaxValue+1), 413, apitype.CodeValueTooLarge},
		{"bad namespace", "PUT", "/v1/kv/k?ns=Bad%20NS", "v", 400, apitype.CodeInvalidNamespace},
		{"absent key", "GET", "/v1/kv/nothing", "", 404, apitype.CodeNotFound},
		{"bad method", "PATCH", "/v1/kv/k", "v", 405, apitype.CodeMethodNotAllowed},
		{"list bad limit", "GET", "/v1/kv?limit=abc", "", 400, apitype.CodeInvalidArgument},
		{"list zero limit", "GET", "/v1/kv?limit=0", "", 400, apitype.CodeInvalidArgument},
		{"list huge limit", "GET", fmt.Sprintf("/v1/kv?limit=%d", apitype.MaxListLimit+1), "", 400, apitype.CodeInvalidArgument},
		{"list bad keys flag", "GET", "/v1/kv?keys=maybe", "", 400, apitype.CodeInvalidArgument},
		{"list bad namespace", "GET", "/v1/kv?ns=a/b", "", 400, apitype.CodeInvalidNamespace},
		{"counter bad by", "POST", "/v1/counter/c?by=abc", "", 400, apitype.CodeInvalidArgument},
		{"counter by overflows int64", "POST", "/v1/counter/c?by=9223372036854775808", "", 400, apitype.CodeInvalidArgument},
		{"counter bad key", "POST", "/v1/counter/%00", "", 400, apitype.CodeInvalidKey},
		{"counter bad method", "PUT", "/v1/counter/c", "", 405, apitype.CodeMethodNotAllowed},
		{"unknown endpoint", "GET", "/v2/anything", "", 404, apitype.CodeNotFound},
		{"peers bad method", "POST", "/v1/peers", "", 405, apitype.CodeMethodNotAllowed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var e apitype.Error
			if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
				t.Fatalf("body is not a JSON error: %v", err)
			}
			if resp.StatusCode != tc.status || e.Code != tc.code || e.Message == "" {
				t.Fatalf("got %d %+v, want %d %s with a message", resp.StatusCode, e, tc.status, tc.code)
			}
		})
	}
	// Nothing was written by any of them.
	if st := n.Status(); len(st.Namespaces) != 0 {
		t.Fatalf("bad input changed state: %+v", st.Namespaces)
	}
}

func TestClientRoundTrip(t *testing.T) {
	srv, _ := newTestServer(t)
	// The first endpoint is dead: the client fails over to the live one.
	dead := httptest.NewServer(http.NotFoundHandler())
	deadAddr := dead.Listener.Addr().String()
	dead.Close()
	cl, err := client.New([]string{deadAddr, srv.URL}, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	keys := []string{"plain", "a/b/c", "a//b", "../up", "./dot", "sp ace", "ünï/cödé", "trailing/", "q?x=1#f", "%41"}
	for i, k := range keys {
		if _, err := cl.Put(ctx, k, []byte(fmt.Sprint("v", i))); err != nil {
			t.Fatalf("put %q: %v", k, err)
		}
	}
	for i, k := range keys {
		v, err := cl.Get(ctx, k)
		if err != nil || string(v.Data) != fmt.Sprint("v", i) || v.Version == 0 {
			t.Fatalf("get %q = %q, %d, %v", k, v.Data, v.Version, err)
		}
	}
	// Pagination visits every key once, in order.
	var got []string
	opts := client.ListOptions{Limit: 3}
	for {
		page, err := cl.List(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Entries {
			got = append(got, e.Key)
		}
		if page.Next == "" {
			break
		}
		opts.After = page.Next
	}
	if len(got) != len(keys) {
		t.Fatalf("listed %d keys, want %d: %q", len(got), len(keys), got)
	}
	for i := 1; i < len(got); i++ {
		if got[i-1] >= got[i] {
			t.Fatalf("listing out of order: %q", got)
		}
	}
	page, err := cl.List(ctx, client.ListOptions{Prefix: "a/", KeysOnly: true})
	if err != nil || len(page.Entries) != 2 || page.Entries[0].Value != nil {
		t.Fatalf("prefix listing = %+v, %v", page, err)
	}
	if err := cl.Delete(ctx, "plain"); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Get(ctx, "plain"); !errors.Is(err, apitype.ErrNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
	for _, by := range []int64{5, -8, 1} {
		if _, err := cl.Incr(ctx, "hits", by); err != nil {
			t.Fatal(err)
		}
	}
	if v, err := cl.Counter(ctx, "hits"); err != nil || v != -2 {
		t.Fatalf("counter = %d, %v; want -2", v, err)
	}
	st, err := cl.Status(ctx)
	if err != nil || st.ID == "" || st.Namespaces["default"].Items == 0 {
		t.Fatalf("status = %+v, %v", st, err)
	}
	if _, err := cl.Peers(ctx); err != nil {
		t.Fatal(err)
	}
	// Namespaces are separate keyspaces.
	other, _ := client.New([]string{srv.URL}, "other")
	if _, err := other.Get(ctx, "a/b/c"); !errors.Is(err, apitype.ErrNotFound) {
		t.Fatalf("namespace leak: %v", err)
	}
}

func TestWatchStreamsChanges(t *testing.T) {
	srv, _ := newTestServer(t)
	cl, _ := client.New([]string{srv.URL}, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := make(chan apitype.Event, 1000)
	errc := make(chan error, 1)
	go func() { errc <- cl.Watch(ctx, "w/", func(ev apitype.Event) error { events <- ev; return nil }) }()
	// The watch is registered once the response headers arrive; poll with
	// writes until the first event shows up.
	var first apitype.Event
	testutil.Eventually(t, "the first watch event", func() bool {
		if _, err := cl.Put(ctx, "w/first", []byte("1")); err != nil {
			t.Fatal(err)
		}
		select {
		case first = <-events:
			return true
		case <-time.After(50 * time.Millisecond):
			return false
		}
	})
	if first.Key != "w/first" || string(first.Value) != "1" || first.Type != "register" || first.Version == 0 {
		t.Fatalf("first event %+v", first)
	}
	if _, err := cl.Put(ctx, "other", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Incr(ctx, "w/c", 4); err != nil {
		t.Fatal(err)
	}
	if err := cl.Delete(ctx, "w/first"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []apitype.Event{{Key: "w/c", Type: "counter", Counter: 4}, {Key: "w/first", Type: "register", Deleted: true}} {
		select {
		case ev := <-events:
			for ev.Key == "w/first" && !ev.Deleted { // a late event of the polling puts
				ev = <-events
			}
			ev.Version, ev.Index = 0, 0
			if fmt.Sprint(ev) != fmt.Sprint(want) {
				t.Fatalf("event %+v, want %+v", ev, want)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("no event for %+v", want)
		}
	}
	cancel()
	if err := <-errc; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("watch ended with %v", err)
	}
}

func TestMetricsAndHealth(t *testing.T) {
	srv, _ := newTestServer(t)
	for path, want := range map[string]string{"/healthz": "ok", "/metrics": "grapevine_gossip_messages_published_total"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Fatalf("%s: %d %.200s", path, resp.StatusCode, body)
		}
	}
}

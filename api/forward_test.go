package api

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/grapevine-kv/grapevine/internal/testutil"
	"github.com/grapevine-kv/grapevine/node"
	"github.com/grapevine-kv/grapevine/node/nodetest"
)

// TestServedByHeader: every route that can forward says, in
// X-Grapevine-Served-By, which holder answered a request for a namespace
// the peer does not replicate, and which peer answered otherwise; a watch
// of such a namespace is refused as unavailable, naming a holder.
func TestServedByHeader(t *testing.T) {
	patterns := [][]string{{"default", "a"}, {"default"}}
	c := nodetest.NewCluster(t, 2, nodetest.Configure(func(i int, cfg *node.Config) { cfg.Namespaces = patterns[i] }))
	holder, self := c.Node(0).Peer().ID().String(), c.Node(1).Peer().ID().String()
	srv := httptest.NewServer(NewServer(c.Node(1), testMaxValue, slog.New(slog.NewTextHandler(io.Discard, nil))))
	t.Cleanup(srv.Close)
	do := func(method, path, body string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	testutil.Eventually(t, "a forwarded put", func() bool {
		resp, _ := do("PUT", "/v1/kv/k?ns=a", "v")
		return resp.StatusCode == http.StatusNoContent
	})
	for _, r := range []struct{ method, path, body string }{
		{"PUT", "/v1/kv/k?ns=a&if-absent=false", "v2"},
		{"GET", "/v1/kv/k?ns=a", ""},
		{"GET", "/v1/kv?ns=a", ""},
		{"POST", "/v1/counter/n?ns=a", ""},
		{"GET", "/v1/counter/n?ns=a", ""},
		{"DELETE", "/v1/counter/n?ns=a", ""},
		{"POST", "/v1/set/s?ns=a", `{"members":["bTE="]}`},
		{"GET", "/v1/set/s?ns=a", ""},
		{"GET", "/v1/set/s?ns=a&member=bTE=", ""},
		{"DELETE", "/v1/set/s?ns=a", `{"members":["bTE="]}`},
		{"POST", "/v1/txn?ns=a", `{"ops":[{"op":"put","key":"t","value":"dg=="}]}`},
		{"DELETE", "/v1/kv/k?ns=a", ""},
	} {
		resp, body := do(r.method, r.path, r.body)
		if resp.StatusCode >= 300 {
			t.Fatalf("%s %s: %d %s", r.method, r.path, resp.StatusCode, body)
		}
		if got := resp.Header.Get(HeaderServedBy); got != holder {
			t.Errorf("%s %s: %s %q, want the holder %s", r.method, r.path, HeaderServedBy, got, holder)
		}
	}
	if resp, body := do("GET", "/v1/kv?ns=default", ""); resp.StatusCode != 200 || resp.Header.Get(HeaderServedBy) != self {
		t.Errorf("a local listing: %d %s, served by %q, want this peer %s", resp.StatusCode, body, resp.Header.Get(HeaderServedBy), self)
	}
	resp, body := do("GET", "/v1/watch?ns=a", "")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, `"no_holder"`) || !strings.Contains(body, holder) {
		t.Errorf("a watch of a namespace held elsewhere: %d %s, want 503 naming %s", resp.StatusCode, body, holder)
	}
	if slices.Contains(c.Node(1).NamespacesForTest(), "a") {
		t.Error("the forwarding peer stored a")
	}
}

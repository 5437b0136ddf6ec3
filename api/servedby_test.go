package api

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/grapevine-kv/grapevine/internal/testutil"
	"github.com/grapevine-kv/grapevine/node"
	"github.com/grapevine-kv/grapevine/node/nodetest"
)

// TestServedByHeader: a key request answered by this peer names it in
// X-Grapevine-Served-By, and one forwarded to a holder names the holder.
func TestServedByHeader(t *testing.T) {
	patterns := [][]string{{"default"}, {"default", "held"}}
	c := nodetest.NewCluster(t, 2, nodetest.Configure(func(i int, cfg *node.Config) { cfg.Namespaces = patterns[i] }))
	srv := httptest.NewServer(NewServer(c.Node(0), testMaxValue, slog.New(slog.NewTextHandler(io.Discard, nil))))
	t.Cleanup(srv.Close)
	do := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get(HeaderServedBy)
	}
	self, holder := c.Node(0).Peer().ID().String(), c.Node(1).Peer().ID().String()
	if code, by := do("PUT", "/v1/kv/k", "v"); code >= 300 || by != self {
		t.Fatalf("local put: %d, served by %q, want 2xx by %s", code, by, self)
	}
	// The holder's provider record appears within a discovery interval.
	testutil.Eventually(t, "a put forwarded to the holder", func() bool {
		code, _ := do("PUT", "/v1/kv/k?ns=held", "v")
		return code < 300
	})
	for _, method := range []string{"PUT", "GET"} {
		if code, by := do(method, "/v1/kv/k?ns=held", "v"); code >= 300 || by != holder {
			t.Fatalf("forwarded %s: %d, served by %q, want 2xx by the holder %s", method, code, by, holder)
		}
	}
}

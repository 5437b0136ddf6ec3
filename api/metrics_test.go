package api

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/grapevine-kv/grapevine/internal/testutil"
	"github.com/grapevine-kv/grapevine/node/nodetest"
)

// scrape returns the body of GET /metrics.
func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, b)
	}
	return string(b)
}

// sample returns the value of the sample line "name{labels} value", or "".
func sample(body, series string) string {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

// /metrics tells what the peer holds and how it is doing: peers, live items
// by type, tombstones apart, API latency by route, sync lag per namespace.
func TestMetricsTellTheTruth(t *testing.T) {
	c := nodetest.NewCluster(t, 2)
	n := c.Node(0)
	srv := httptest.NewServer(NewServer(n, testMaxValue, slog.New(slog.NewTextHandler(io.Discard, nil))))
	t.Cleanup(srv.Close)
	do := func(method, path string, body string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			t.Fatalf("%s %s: %d", method, path, resp.StatusCode)
		}
	}
	do("PUT", "/v1/kv/a", "1")
	do("PUT", "/v1/kv/b", "2")
	do("PUT", "/v1/kv/c?ns=other", "3")
	do("DELETE", "/v1/kv/b", "")
	do("POST", "/v1/counter/hits?by=2", "")
	if _, err := n.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	body := scrape(t, srv.URL)
	for series, want := range map[string]string{
		`grapevine_peers`: "1",
		`grapevine_items{namespace="default",type="register"}`: "1",
		`grapevine_items{namespace="default",type="counter"}`:  "1",
		`grapevine_items{namespace="other",type="register"}`:   "1",
		`grapevine_tombstones{namespace="default"}`:            "1",
		`grapevine_tombstones{namespace="other"}`:              "0",
	} {
		if got := sample(body, series); got != want {
			t.Errorf("%s = %q, want %s", series, got, want)
		}
	}
	for _, series := range []string{
		`grapevine_http_request_duration_seconds_count{route="/v1/kv/{key...}"}`,
		`grapevine_http_request_duration_seconds_count{route="/v1/counter/{key...}"}`,
		`grapevine_sync_lag_seconds{namespace="default"}`,
		`grapevine_known_peers`,
	} {
		if sample(body, series) == "" {
			t.Errorf("no sample %s in /metrics", series)
		}
	}
	if got := sample(body, `grapevine_http_request_duration_seconds_count{route="/v1/kv/{key...}"}`); got != "4" {
		t.Errorf("kv requests timed: %s, want 4", got)
	}
	c.Stop(1)
	testutil.Eventually(t, "grapevine_peers 0 once the other peer stopped", func() bool {
		return sample(scrape(t, srv.URL), "grapevine_peers") == "0"
	})
}

// The status counts live items and tombstones apart.
func TestStatusCountsTombstonesApart(t *testing.T) {
	n := newHookNode(t, nil)
	for _, k := range []string{"a", "b", "c"} {
		if _, err := n.Put(t.Context(), "", []byte(k), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.Delete(t.Context(), "", []byte("b")); err != nil {
		t.Fatal(err)
	}
	st := toStatus(n.Status()).Namespaces["default"]
	if st.Items != 2 || st.Tombstones != 1 {
		t.Errorf("status: %d items, %d tombstones; want 2 and 1", st.Items, st.Tombstones)
	}
}

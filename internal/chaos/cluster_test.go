package chaos

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/api/apitype"
)

// TestClientOutcomes: through api/client, the harness still tells a
// definite failure (refused, 4xx, 503 unavailable) from an indeterminate
// outcome (timeout, another 5xx), reads not_found as absent, and requires
// a version on every register answer.
func TestClientOutcomes(t *testing.T) {
	answer := func(status int, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		}
	}
	release := make(chan struct{})
	routes := map[string]http.HandlerFunc{
		"/v1/kv/ok": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set(apitype.VersionHeader, "42")
			_, _ = w.Write([]byte("v"))
		},
		"/v1/kv/noversion": answer(http.StatusOK, "v"),
		"/v1/kv/absent":    answer(http.StatusNotFound, `{"code":"not_found","message":"m"}`),
		"/v1/kv/invalid":   answer(http.StatusBadRequest, `{"code":"invalid_key","message":"m"}`),
		"/v1/kv/closing":   answer(http.StatusServiceUnavailable, `{"code":"unavailable","message":"m"}`),
		"/v1/kv/broken":    answer(http.StatusInternalServerError, `{"code":"storage_failure","message":"m"}`),
		"/v1/kv/proxy":     answer(http.StatusBadGateway, "not JSON"),
		"/v1/kv/slow": func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-release:
			}
		},
		"/v1/test/clock": answer(http.StatusNotFound, `{"code":"not_found","message":"m"}`),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		routes[r.URL.Path](w, r)
	}))
	defer srv.Close()
	defer close(release)
	addr := strings.TrimPrefix(srv.URL, "http://")
	dead := httptest.NewServer(http.NotFoundHandler())
	deadAddr := strings.TrimPrefix(dead.URL, "http://")
	dead.Close()

	c := NewClient(200 * time.Millisecond)
	defer c.Close()
	ctx := context.Background()

	if v, err := c.Put(ctx, addr, "ok", "v"); err != nil || v != 42 {
		t.Errorf("Put ok = %d, %v; want 42", v, err)
	}
	if r, err := c.Get(ctx, addr, "ok"); err != nil || r != (Reg{Value: "v", Version: 42}) {
		t.Errorf("Get ok = %+v, %v", r, err)
	}
	if r, err := c.Get(ctx, addr, "absent"); err != nil || !r.Absent {
		t.Errorf("Get absent = %+v, %v; want Absent", r, err)
	}
	if _, err := c.Put(ctx, addr, "noversion", "v"); err == nil || classify(err) != TypeInfo {
		t.Errorf("Put without a version: %v (%s), want an info error", err, classify(err))
	}
	if _, err := c.Get(ctx, addr, "noversion"); err == nil {
		t.Error("Get without a version: no error, want one")
	}
	cases := []struct {
		addr, key, want string
	}{
		{addr, "invalid", TypeFail},
		{addr, "closing", TypeFail},
		{addr, "broken", TypeInfo},
		{addr, "proxy", TypeInfo},
		{addr, "slow", TypeInfo},
		{deadAddr, "ok", TypeFail},
		{"", "ok", TypeFail},
	}
	for _, tc := range cases {
		err := c.Delete(ctx, tc.addr, tc.key)
		if got := classify(err); got != tc.want {
			t.Errorf("Delete %s at %q: %v classified %s, want %s", tc.key, tc.addr, err, got, tc.want)
		}
	}
	if err := c.Hook(ctx, addr, "clock", nil); err == nil {
		t.Error("a hook answered 404: no error")
	}
}

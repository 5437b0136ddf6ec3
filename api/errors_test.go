package api

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/grapevine-kv/grapevine/api/apitype"
	"github.com/grapevine-kv/grapevine/api/client"
	"github.com/grapevine-kv/grapevine/node"
	"github.com/grapevine-kv/grapevine/node/nodetest"
	ic "github.com/libp2p/go-libp2p/core/crypto"
	libp2ppeer "github.com/libp2p/go-libp2p/core/peer"
)

// TestErrorTableCoversNodeErrors: every node sentinel has exactly one entry
// in errorTable, with a code the client knows; a new sentinel without a
// mapping fails here. Only a failed disk is a 500 with its own code.
func TestErrorTableCoversNodeErrors(t *testing.T) {
	for _, s := range node.Errors {
		var found []errorMapping
		for _, m := range errorTable {
			if m.sentinel == s {
				found = append(found, m)
			}
		}
		if len(found) != 1 {
			t.Errorf("%v: %d entries in errorTable, want 1", s, len(found))
			continue
		}
		m := found[0]
		if apitype.CodeError(m.code) == nil {
			t.Errorf("%v: code %q is not an apitype code", s, m.code)
		}
		e := apiError(fmt.Errorf("some context: %w", s))
		if e.Status != m.status || e.Code != m.code || e.Message == "" {
			t.Errorf("%v wrapped: answered %d %s %q, want %d %s", s, e.Status, e.Code, e.Message, m.status, m.code)
		}
		if e.Status == http.StatusInternalServerError && e.Code != apitype.CodeStorageFailure && e.Code != apitype.CodeInternal {
			t.Errorf("%v: a 500 with code %s; only storage_failure or internal may be 500", s, e.Code)
		}
	}
	if len(errorTable) != len(node.Errors) {
		t.Errorf("errorTable has %d entries, node.Errors %d: remove the stale ones", len(errorTable), len(node.Errors))
	}
	// Shutting down wins over whatever else the error says.
	if e := apiError(fmt.Errorf("%w: %w", node.ErrCanceled, node.ErrClosed)); e.Code != apitype.CodeUnavailable {
		t.Errorf("canceled by a shutdown: %s, want unavailable", e.Code)
	}
	if e := apiError(errors.New("mystery")); e.Status != http.StatusInternalServerError || e.Code != apitype.CodeInternal {
		t.Errorf("an unknown error: %d %s, want 500 internal", e.Status, e.Code)
	}
}

// TestClosedNodeAnswersUnavailable: once the node is closed, every endpoint
// (the API's and the test hooks') answers 503 unavailable with a JSON
// error, never a 500 or a success.
func TestClosedNodeAnswersUnavailable(t *testing.T) {
	h := NewTestHooks()
	srv, n := newHookServer(t, h)
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	all := append(endpoints(routes), endpoints(h.routes(n))...)
	if len(all) < 15 {
		t.Fatalf("only %d endpoints enumerated", len(all))
	}
	for _, e := range all {
		t.Run(e.String(), func(t *testing.T) {
			path := strings.ReplaceAll(e.path, "{key}", "k")
			req, _ := http.NewRequest(e.method, srv.URL+path, strings.NewReader("v"))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("status %d (%s), want 503 with a JSON error", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if e.method == http.MethodHead {
				return // no body
			}
			var body apitype.Error
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Code != apitype.CodeUnavailable || body.Message == "" {
				t.Fatalf("body %+v, %v; want code unavailable with a message", body, err)
			}
		})
	}
	// The client sees the code as a sentinel.
	cl, _ := client.New([]string{srv.URL}, "")
	if _, err := cl.Incr(context.Background(), "c", 1); !errors.Is(err, apitype.ErrUnavailable) {
		t.Errorf("client Incr on a closed node: %v, want apitype.ErrUnavailable", err)
	}
}

// TestClientErrors: the client maps each code the server answers back to
// its apitype sentinel.
func TestClientErrors(t *testing.T) {
	srv, _ := newTestServer(t)
	cl, _ := client.New([]string{srv.URL}, "")
	ctx := context.Background()
	if _, err := cl.Incr(ctx, "c", 1<<62); err != nil {
		t.Fatal(err)
	}
	_, err := cl.Incr(ctx, "c", 1<<62)
	var e *apitype.Error
	if !errors.Is(err, apitype.ErrOverflow) || !errors.As(err, &e) || e.Status != http.StatusConflict {
		t.Errorf("overflowing increment: %v, want 409 overflow", err)
	}
	if v, err := cl.Counter(ctx, "c"); err != nil || v != 1<<62 {
		t.Errorf("the refused increment changed the counter: %d, %v", v, err)
	}
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"absent key", func() error { _, err := cl.Get(ctx, "absent"); return err }(), apitype.ErrNotFound},
		{"key with a control character", func() error { _, err := cl.Put(ctx, "a\x01", nil); return err }(), apitype.ErrInvalidKey},
		{"value too large", func() error { _, err := cl.Put(ctx, "k", make([]byte, testMaxValue+1)); return err }(), apitype.ErrValueTooLarge},
		{"no peers", func() error { _, err := cl.Sync(ctx); return err }(), apitype.ErrNoPeers},
	} {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, tc.err, tc.want)
		}
	}
	bad, _ := client.New([]string{srv.URL}, "Not Valid")
	if _, err := bad.Get(ctx, "k"); !errors.Is(err, apitype.ErrInvalidNamespace) {
		t.Errorf("bad namespace: %v, want apitype.ErrInvalidNamespace", err)
	}
}

// TestForbiddenWrite: a write to a namespace whose writer list does not
// name this peer is 403 forbidden and changes nothing; reads still work.
func TestForbiddenWrite(t *testing.T) {
	sk, _, err := ic.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, err := libp2ppeer.IDFromPrivateKey(sk)
	if err != nil {
		t.Fatal(err)
	}
	cfg := nodetest.Config(t)
	cfg.Writers = map[string][]libp2ppeer.ID{"pay": {other}}
	n := nodetest.Start(t, cfg)
	srv := httptest.NewServer(NewServer(n, testMaxValue, slog.New(slog.NewTextHandler(io.Discard, nil))))
	t.Cleanup(srv.Close)

	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/v1/kv/k?ns=pay", strings.NewReader("v"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body apitype.Error
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || body.Code != apitype.CodeForbidden {
		t.Errorf("PUT: %d %+v, want 403 forbidden", resp.StatusCode, body)
	}
	cl, _ := client.New([]string{srv.URL}, "pay")
	ctx := context.Background()
	if _, err := cl.Incr(ctx, "c", 1); !errors.Is(err, apitype.ErrForbidden) {
		t.Errorf("Incr: %v, want apitype.ErrForbidden", err)
	}
	if err := cl.Delete(ctx, "k"); !errors.Is(err, apitype.ErrForbidden) {
		t.Errorf("Delete: %v, want apitype.ErrForbidden", err)
	}
	if _, err := cl.Get(ctx, "k"); !errors.Is(err, apitype.ErrNotFound) {
		t.Errorf("Get after refused writes: %v, want not found", err)
	}
}

package api

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/grapevine-kv/grapevine/api/apitype"
)

// FuzzKV sends PUT /v1/kv/{key}?ns=NS with arbitrary keys (escaped, or
// raw in the path), namespaces and bodies. No input gets a 5xx; a valid key
// and value are stored (a GET returns them at the PUT's version); an
// invalid key gets invalid_key and changes nothing.
func FuzzKV(f *testing.F) {
	n := newHookNode(f, nil)
	s := NewServer(n, testMaxValue, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, seed := range []struct {
		key, ns string
		raw     bool
		body    []byte
	}{
		{"k", "", false, []byte("v")},
		{"a/b/../c", "", false, []byte("")},
		{"a%2Fb", "", true, []byte("x")},
		{"", "", false, []byte("v")},
		{"a\x01b", "", false, []byte("v")},
		{"\xff\xfe", "", false, []byte("v")},
		{"é/ü", "other", false, []byte("\x00\xff")},
		{"k", "Not A Namespace!", false, []byte("v")},
		{"k", "", false, bytes.Repeat([]byte("v"), testMaxValue+1)},
		{"%zz", "", true, []byte("v")},
		{"./..//", "", true, []byte("v")},
	} {
		f.Add(seed.key, seed.ns, seed.raw, seed.body)
	}
	f.Fuzz(func(t *testing.T, key, ns string, raw bool, body []byte) {
		path := "/v1/kv/" + url.PathEscape(key)
		if raw {
			path = "/v1/kv/" + key
		}
		target := path + "?ns=" + url.QueryEscape(ns)
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return // not a request a client can send
		}
		req := httptest.NewRequest(http.MethodPut, "/", bytes.NewReader(body))
		req.URL, req.RequestURI = u, target
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("PUT %q: status %d: %s", target, rec.Code, rec.Body)
		}
		if raw {
			return // the mux may clean or redirect a raw path: only no 5xx
		}
		keyErr := apitype.ValidKey(key)
		switch {
		case keyErr != nil && rec.Code != http.StatusBadRequest:
			t.Fatalf("PUT invalid key %q (%v): status %d", key, keyErr, rec.Code)
		case keyErr != nil:
			return
		case len(body) > testMaxValue && rec.Code != http.StatusRequestEntityTooLarge:
			t.Fatalf("PUT %d-byte value: status %d, want 413", len(body), rec.Code)
		case rec.Code != http.StatusNoContent:
			return // e.g. an invalid namespace: refused with a 4xx
		}
		get := httptest.NewRequest(http.MethodGet, "/", nil)
		get.URL, get.RequestURI = u, target
		grec := httptest.NewRecorder()
		s.ServeHTTP(grec, get)
		if grec.Code != http.StatusOK || !bytes.Equal(grec.Body.Bytes(), body) {
			t.Fatalf("GET %q after PUT: status %d, %q, want %q", target, grec.Code, grec.Body.Bytes(), body)
		}
		if pv, gv := rec.Header().Get(apitype.VersionHeader), grec.Header().Get(apitype.VersionHeader); pv == "" || pv != gv {
			t.Fatalf("GET version %q, the PUT answered %q", gv, pv)
		}
	})
}

// FuzzCounterBy sends POST /v1/counter/k?by=BY: a whole number is added
// (or refused as an overflow), anything else is invalid_argument; never 5xx.
func FuzzCounterBy(f *testing.F) {
	n := newHookNode(f, nil)
	s := NewServer(n, testMaxValue, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, by := range []string{"1", "-5", "0", "abc", "", "9223372036854775807", "-9223372036854775808", "99999999999999999999", "+3", " 1", "1e3", "0x10"} {
		f.Add(by)
	}
	f.Fuzz(func(t *testing.T, by string) {
		target := "/v1/counter/k?by=" + url.QueryEscape(by)
		req := httptest.NewRequest(http.MethodPost, target, nil)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("by=%q: status %d: %s", by, rec.Code, rec.Body)
		}
		if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
			t.Fatalf("by=%q: status %d, want 200 or 400", by, rec.Code)
		}
	})
}

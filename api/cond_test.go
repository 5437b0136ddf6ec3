package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/api/apitype"
	"github.com/grapevine-kv/grapevine/api/client"
)

// TestConditionalWritesHTTP walks one key through conditional writes as a
// script of requests: each step's status, code, and the version the
// answer carries (ETag and, on 412, the body).
func TestConditionalWritesHTTP(t *testing.T) {
	srv, _ := newTestServer(t)
	send := func(method, path, body string, hdr map[string]string) (*http.Response, apitype.Error) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e apitype.Error
		data, _ := io.ReadAll(resp.Body)
		_ = json.Unmarshal(data, &e)
		return resp, e
	}
	etag := func(resp *http.Response) string { return resp.Header.Get("ETag") }

	resp, _ := send("PUT", "/v1/kv/k", "v1", map[string]string{"If-None-Match": "*"})
	if resp.StatusCode != 204 || etag(resp) == "" || etag(resp) != `"`+resp.Header.Get(apitype.VersionHeader)+`"` {
		t.Fatalf("put-if-absent: %d, ETag %q, version %q", resp.StatusCode, etag(resp), resp.Header.Get(apitype.VersionHeader))
	}
	v1 := etag(resp)
	ver1, _ := strconv.ParseUint(strings.Trim(v1, `"`), 10, 64)

	for _, tc := range []struct {
		name, method, path string
		hdr                map[string]string
		status             int
		code               string
	}{
		{"put-if-absent on a present key", "PUT", "/v1/kv/k", map[string]string{"If-None-Match": "*"}, 412, apitype.CodePrecondition},
		{"cas=0 on a present key", "PUT", "/v1/kv/k?cas=0", nil, 412, apitype.CodePrecondition},
		{"If-Match on another version", "PUT", "/v1/kv/k", map[string]string{"If-Match": `"1"`}, 412, apitype.CodePrecondition},
		{"cas on another version", "DELETE", "/v1/kv/k?cas=1", nil, 412, apitype.CodePrecondition},
		{"two conditions", "PUT", "/v1/kv/k?cas=0", map[string]string{"If-Match": v1}, 400, apitype.CodeInvalidArgument},
		{"If-Match not a version", "PUT", "/v1/kv/k", map[string]string{"If-Match": `"abc"`}, 400, apitype.CodeInvalidArgument},
		{"If-None-Match with a version", "PUT", "/v1/kv/k", map[string]string{"If-None-Match": v1}, 400, apitype.CodeInvalidArgument},
		{"cas not a number", "PUT", "/v1/kv/k?cas=x", nil, 400, apitype.CodeInvalidArgument},
		{"bad ttl", "PUT", "/v1/kv/k?ttl=soon", nil, 400, apitype.CodeInvalidArgument},
		{"negative ttl", "PUT", "/v1/kv/k?ttl=-1s", nil, 400, apitype.CodeInvalidArgument},
		{"ttl on delete", "DELETE", "/v1/kv/k?ttl=1s", nil, 400, apitype.CodeInvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, e := send(tc.method, tc.path, "other", tc.hdr)
			if resp.StatusCode != tc.status || e.Code != tc.code {
				t.Fatalf("%s %s: %d %q (%s), want %d %q", tc.method, tc.path, resp.StatusCode, e.Code, e.Message, tc.status, tc.code)
			}
			if tc.status == 412 && (e.Version != ver1 || etag(resp) != v1) {
				t.Fatalf("412 carries version %d and ETag %q, want the current %s", e.Version, etag(resp), v1)
			}
		})
	}
	// Nothing changed: the value is still v1 at its version.
	resp, _ = send("GET", "/v1/kv/k", "", nil)
	if resp.StatusCode != 200 || etag(resp) != v1 {
		t.Fatalf("after refused writes: %d, ETag %q, want %s", resp.StatusCode, etag(resp), v1)
	}
	resp, _ = send("PUT", "/v1/kv/k?ttl=1h", "v2", map[string]string{"If-Match": v1})
	if resp.StatusCode != 204 || etag(resp) == v1 {
		t.Fatalf("If-Match on the current version: %d", resp.StatusCode)
	}
	v2 := etag(resp)
	resp, _ = send("GET", "/v1/kv/k", "", nil)
	if exp, err := time.Parse(time.RFC3339Nano, resp.Header.Get(apitype.ExpiresHeader)); err != nil || time.Until(exp) < 50*time.Minute {
		t.Fatalf("%s = %q (%v), want about an hour from now", apitype.ExpiresHeader, resp.Header.Get(apitype.ExpiresHeader), err)
	}
	resp, _ = send("DELETE", "/v1/kv/k?cas="+strings.Trim(v2, `"`), "", nil)
	if resp.StatusCode != 204 {
		t.Fatalf("conditional delete on the current version: %d", resp.StatusCode)
	}
	resp, e := send("PUT", "/v1/kv/k", "v3", map[string]string{"If-Match": v2})
	if resp.StatusCode != 412 || e.Version != 0 || etag(resp) != "" {
		t.Fatalf("If-Match on a deleted key: %d, version %d, ETag %q; want 412 with no version", resp.StatusCode, e.Version, etag(resp))
	}
	resp, _ = send("PUT", "/v1/kv/k?cas=0", "v3", nil)
	if resp.StatusCode != 204 {
		t.Fatalf("cas=0 on a deleted key: %d", resp.StatusCode)
	}
}

func TestTxnHTTP(t *testing.T) {
	srv, _ := newTestServer(t)
	c, err := client.New([]string{srv.URL}, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	v, err := c.PutWith(ctx, "b", []byte("old"), client.WriteOptions{IfAbsent: true})
	if err != nil {
		t.Fatal(err)
	}
	// The body exactly as the issue writes it, with a condition.
	body := `{"ops": [{"op": "put", "key": "a", "value": "` + "aGVsbG8=" + `"}, {"op": "del", "key": "b", "if_version": ` + strconv.FormatUint(v, 10) + `}, {"op": "incr", "key": "c", "by": 2}]}`
	resp, err := http.Post(srv.URL+"/v1/txn", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var out apitype.TxnResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("POST /v1/txn: %d, %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	if len(out.Results) != 3 || out.Results[0].Version == 0 || out.Results[2].Counter == nil || *out.Results[2].Counter != 2 {
		t.Fatalf("results %+v", out.Results)
	}
	if got, err := c.Get(ctx, "a"); err != nil || string(got.Data) != "hello" {
		t.Fatalf("a = %q, %v", got.Data, err)
	}
	if _, err := c.Get(ctx, "b"); !errors.Is(err, apitype.ErrNotFound) {
		t.Fatalf("b: %v, want deleted", err)
	}
	// All or nothing: a failed condition changes nothing.
	_, err = c.Txn(ctx, []apitype.TxnOp{{Op: "incr", Key: "c", By: 5}, {Op: "put", Key: "a", Value: []byte("x"), IfAbsent: true}})
	var e *apitype.Error
	if !errors.Is(err, apitype.ErrPrecondition) || !errors.As(err, &e) || e.Version != out.Results[0].Version {
		t.Fatalf("txn with a failed condition: %v, want precondition_failed at a's version %d", err, out.Results[0].Version)
	}
	if n, _ := c.Counter(ctx, "c"); n != 2 {
		t.Fatalf("a refused txn changed the counter to %d", n)
	}

	for _, tc := range []struct {
		name, body string
		status     int
		code       string
	}{
		{"not JSON", "{", 400, apitype.CodeInvalidArgument},
		{"unknown field", `{"ops": [], "x": 1}`, 400, apitype.CodeInvalidArgument},
		{"no ops", `{"ops": []}`, 400, apitype.CodeInvalidArgument},
		{"unknown op", `{"ops": [{"op": "cas", "key": "a"}]}`, 400, apitype.CodeInvalidArgument},
		{"bad key", `{"ops": [{"op": "del", "key": ""}]}`, 400, apitype.CodeInvalidKey},
		{"bad value", `{"ops": [{"op": "put", "key": "a", "value": "!!"}]}`, 400, apitype.CodeInvalidArgument},
		{"bad ttl", `{"ops": [{"op": "put", "key": "a", "ttl": "1y"}]}`, 400, apitype.CodeInvalidArgument},
		{"condition on incr", `{"ops": [{"op": "incr", "key": "c", "if_absent": true}]}`, 400, apitype.CodeInvalidArgument},
		{"too many ops", `{"ops": [` + strings.Repeat(`{"op": "del", "key": "k"},`, 1000) + `{"op": "del", "key": "k"}]}`, 413, apitype.CodeTxnTooLarge},
		{"body too large", `{"ops": [{"op": "put", "key": "a", "value": "` + strings.Repeat("A", maxTxnBody) + `"}]}`, 413, apitype.CodeTxnTooLarge},
		{"value over the peer's limit", `{"ops": [{"op": "put", "key": "a", "value": "` + strings.Repeat("A", 4*testMaxValue) + `"}]}`, 413, apitype.CodeValueTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Post(srv.URL+"/v1/txn", "application/json", strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var e apitype.Error
			_ = json.NewDecoder(resp.Body).Decode(&e)
			if resp.StatusCode != tc.status || e.Code != tc.code {
				t.Fatalf("%d %q (%s), want %d %q", resp.StatusCode, e.Code, e.Message, tc.status, tc.code)
			}
		})
	}
}

// FuzzTxnBody posts arbitrary bodies to /v1/txn: no input gets a 5xx.
func FuzzTxnBody(f *testing.F) {
	n := newHookNode(f, nil)
	s := NewServer(n, testMaxValue, slog.New(slog.NewTextHandler(io.Discard, nil)))
	f.Add([]byte(`{"ops": [{"op": "put", "key": "a", "value": "aGk="}, {"op": "del", "key": "b"}, {"op": "incr", "key": "c", "by": 2}]}`))
	f.Add([]byte(`{"ops": [{"op": "put", "key": "a", "ttl": "1s", "if_absent": true}, {"op": "del", "key": "a", "if_version": 5}]}`))
	f.Add([]byte(`{"ops": []}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/txn", bytes.NewReader(body)))
		if rec.Code >= 500 {
			t.Fatalf("POST /v1/txn %q: status %d: %s", body, rec.Code, rec.Body)
		}
	})
}

package api

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/api/apitype"
	"github.com/grapevine-kv/grapevine/api/client"
	"github.com/grapevine-kv/grapevine/internal/testutil"
	"github.com/grapevine-kv/grapevine/node"
	"github.com/grapevine-kv/grapevine/node/nodetest"
)

func TestParseTokens(t *testing.T) {
	set, err := parseTokens(strings.NewReader(`
# a comment line
w-all write
   r-all    read   # everything, read only

w-tenant write tenant-* shared #comment
r#hash read
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(set.entries) != 4 {
		t.Fatalf("%d tokens, want 4", len(set.entries))
	}
	for _, tc := range []struct {
		token, ns string
		found     bool
		write     bool
		allows    bool
	}{
		{"w-all", "anything", true, true, true},
		{"r-all", "default", true, false, true},
		{"w-tenant", "tenant-a", true, true, true},
		{"w-tenant", "shared", true, true, true},
		{"w-tenant", "default", true, true, false},
		{"w-tenant", "tenant", true, true, false},
		{"r#hash", "default", true, false, true}, // # inside a word is not a comment
		{"everything,", "", false, false, false},
		{"r-al", "", false, false, false},
		{"", "", false, false, false},
	} {
		e := set.lookup(tc.token)
		if (e != nil) != tc.found {
			t.Errorf("lookup(%q) found=%v, want %v", tc.token, e != nil, tc.found)
			continue
		}
		if e != nil && (e.write != tc.write || e.allows(tc.ns) != tc.allows) {
			t.Errorf("%q: write=%v allows(%q)=%v, want %v %v", tc.token, e.write, tc.ns, e.allows(tc.ns), tc.write, tc.allows)
		}
	}

	const secret = "s3cr3t-T0KEN"
	for _, tc := range []struct{ name, file, want string }{
		{"one word", "ok write\n\n" + secret + "\n", "line 3"},
		{"bad access", "# c\n" + secret + " admin\n", "line 2: the second word must be read or write"},
		{"swapped words", "write " + secret + "\n", "line 1: the second word"},
		{"bad pattern", secret + " read ok [" + secret + "\n", "line 1: namespace pattern 2"},
		{"duplicate", secret + " read\n" + secret + " write\n", "line 2: the same token as line 1"},
		{"empty", "# nothing\n\n", "no tokens"},
	} {
		_, err := parseTokens(strings.NewReader(tc.file))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("%s: the error %q echoes the token", tc.name, err)
		}
	}
}

func TestLoadTokensReload(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tokens")
	if _, err := LoadTokens(file); err == nil || !strings.Contains(err.Error(), "token file") {
		t.Fatalf("missing file: %v", err)
	}
	write := func(s string) {
		if err := os.WriteFile(file, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("one read\n")
	tok, err := LoadTokens(file)
	if err != nil || tok.Len() != 1 {
		t.Fatalf("LoadTokens: %v, %v", tok, err)
	}
	write("one read\ntwo write\n")
	if err := tok.Reload(); err != nil || tok.Len() != 2 || tok.set.Load().lookup("two") == nil {
		t.Fatalf("Reload: %v, %d tokens", err, tok.Len())
	}
	write("one read\nbroken\n")
	if err := tok.Reload(); err == nil || !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("Reload of a broken file: %v", err)
	}
	if tok.Len() != 2 {
		t.Fatalf("a failed reload changed the tokens: %d", tok.Len())
	}
}

// The tokens of the authorization tests.
const (
	tokWriteAll  = "tok-write-all-0123456789"
	tokReadAll   = "tok-read-all-0123456789"
	tokWriteTen  = "tok-write-tenant-0123456789"
	tokUnknown   = "tok-unknown-0123456789"
	testTokenSet = tokWriteAll + " write\n" + tokReadAll + " read\n" + tokWriteTen + " write tenant-*\n"
)

// newTokenServer serves a test node with the test hooks and testTokenSet;
// its log goes to the returned buffer.
func newTokenServer(t *testing.T) (*httptest.Server, *TestHooks, *testutil.Buffer) {
	t.Helper()
	set, err := parseTokens(strings.NewReader(testTokenSet))
	if err != nil {
		t.Fatal(err)
	}
	tokens := &Tokens{}
	tokens.set.Store(set)
	hooks := NewTestHooks()
	n := newHookNode(t, hooks)
	logs := &testutil.Buffer{}
	s := NewServer(n, testMaxValue, slog.New(slog.NewTextHandler(logs, nil)))
	WithTokens(tokens)(s)
	for _, o := range hooks.ServeOptions() {
		o(s)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv, hooks, logs
}

// call sends method path?ns=ns with token ("" for none) and returns the
// status and, for an error, its JSON body. A streaming answer (watch) is
// cut once its headers arrive.
func call(t *testing.T, srv *httptest.Server, method, path, ns, token string) (int, http.Header, apitype.Error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u := srv.URL + path
	if ns != "" {
		u += "?ns=" + url.QueryEscape(ns)
	}
	req, _ := http.NewRequestWithContext(ctx, method, u, strings.NewReader("v"))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e apitype.Error
	if resp.StatusCode >= 400 && method != http.MethodHead {
		if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
			t.Fatalf("%s %s: status %d without a JSON error: %v", method, path, resp.StatusCode, err)
		}
	}
	return resp.StatusCode, resp.Header, e
}

// TestAuthorizationMatrix: every endpoint of the route table and the test
// hooks, with no token, an unknown token, a read token, a write token and
// a write token of other namespaces, answers as the package documentation
// says. An endpoint missing from want fails the test, so no new route
// escapes it.
func TestAuthorizationMatrix(t *testing.T) {
	srv, hooks, logs := newTokenServer(t)
	// What each endpoint needs, as doc.go documents it.
	const (
		readNS   = "read, for the namespace"
		writeNS  = "write, for the namespace"
		anyToken = "any valid token"
		anyWrite = "any write token"
		none     = "none"
		// Spanning namespaces: each namespace covered is checked by the
		// handler (TestExportTokens); here only the token kind.
		readEvery  = "read, for every namespace it covers"
		writeEvery = "write, for every namespace it covers"
	)
	want := map[string]string{
		"PUT /v1/kv/{key}": writeNS, "GET /v1/kv/{key}": readNS, "HEAD /v1/kv/{key}": readNS, "DELETE /v1/kv/{key}": writeNS,
		"GET /v1/kv": readNS, "POST /v1/counter/{key}": writeNS, "GET /v1/counter/{key}": readNS, "GET /v1/watch": readNS,
		"POST /v1/txn":  writeNS,
		"GET /v1/peers": anyToken, "GET /v1/status": anyToken, "GET /metrics": anyToken,
		"POST /v1/sync": anyWrite, "GET /healthz": none, "GET /readyz": none, "GET /ui/": none,
		"GET /v1/export": readEvery, "GET /v1/backup": readEvery, "POST /v1/import": writeEvery,
		"DELETE /v1/counter/{key}": writeNS, "GET /v1/set/{key}": readNS, "POST /v1/set/{key}": writeNS, "DELETE /v1/set/{key}": writeNS,
	}
	all := endpoints(routes)
	for _, e := range endpoints(hooks.routes(nil)) {
		want[e.String()] = anyWrite
		all = append(all, e)
	}
	if len(all) != len(want) {
		t.Errorf("%d endpoints, %d expectations: a route is missing from want or want has a stale one", len(all), len(want))
	}
	for _, e := range all {
		need, ok := want[e.String()]
		if !ok {
			t.Errorf("%s: no expectation; add it to want (and to doc.go and the README)", e)
			continue
		}
		t.Run(e.String(), func(t *testing.T) {
			path := strings.ReplaceAll(e.path, "{key}", "k")
			check := func(who, ns, token string, wantCode string) {
				t.Helper()
				status, h, body := call(t, srv, e.method, path, ns, token)
				switch wantCode {
				case apitype.CodeUnauthorized:
					if status != http.StatusUnauthorized || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
						t.Errorf("%s: %d (WWW-Authenticate %q), want 401 with WWW-Authenticate: Bearer", who, status, h.Get("WWW-Authenticate"))
					}
				case apitype.CodeForbidden:
					if status != http.StatusForbidden {
						t.Errorf("%s: %d, want 403", who, status)
					}
				default:
					if status == http.StatusUnauthorized || status == http.StatusForbidden {
						t.Errorf("%s: %d %s, want it allowed", who, status, body.Message)
					}
					return
				}
				if e.method != http.MethodHead && (body.Code != wantCode || body.Message == "") {
					t.Errorf("%s: body %+v, want code %s with a message", who, body, wantCode)
				}
			}
			allowed := ""
			if need == none {
				check("no token", "", "", allowed)
				check("unknown token", "", tokUnknown, allowed)
				return
			}
			check("no token", "", "", apitype.CodeUnauthorized)
			check("unknown token", "", tokUnknown, apitype.CodeUnauthorized)
			check("write token", "", tokWriteAll, allowed)
			switch need {
			case readNS, anyToken, readEvery:
				check("read token", "", tokReadAll, allowed)
			case writeNS, anyWrite, writeEvery:
				check("read token", "", tokReadAll, apitype.CodeForbidden)
			}
			switch need {
			case readNS, writeNS:
				check("other namespaces' token", "", tokWriteTen, apitype.CodeForbidden)
				check("other namespaces' token, ns=default", "default", tokWriteTen, apitype.CodeForbidden)
				check("the namespace's token", "tenant-a", tokWriteTen, allowed)
			case anyToken, anyWrite:
				check("a namespace's token", "", tokWriteTen, allowed)
			}
		})
	}

	// Refusals on unknown paths and methods, and the messages.
	if status, _, body := call(t, srv, "GET", "/v2/nothing", "", ""); status != 401 || body.Code != apitype.CodeUnauthorized {
		t.Errorf("unknown path without a token: %d %+v, want 401", status, body)
	}
	if status, _, _ := call(t, srv, "GET", "/v2/nothing", "", tokReadAll); status != 404 {
		t.Errorf("unknown path with a token: %d, want 404", status)
	}
	if status, _, _ := call(t, srv, "PATCH", "/v1/kv/k", "", ""); status != 401 {
		t.Errorf("a bad method without a token: %d, want 401", status)
	}
	if _, _, body := call(t, srv, "PUT", "/v1/kv/k", "x", tokReadAll); body.Message != `the token may not write namespace "x"` {
		t.Errorf("403 message %q", body.Message)
	}
	if _, _, body := call(t, srv, "GET", "/v1/kv/k", "x", tokWriteTen); body.Message != `the token may not read namespace "x"` {
		t.Errorf("403 message %q", body.Message)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/v1/status", nil)
	req.Header.Set("Authorization", "Basic "+tokReadAll)
	if resp, err := srv.Client().Do(req); err != nil || resp.StatusCode != 401 {
		t.Errorf("Basic instead of Bearer: %v %v, want 401", resp, err)
	} else {
		resp.Body.Close()
	}

	// Counted by code, logged with a reason, never with a token.
	resp, err := srv.Client().Do(func() *http.Request {
		r, _ := http.NewRequest("GET", srv.URL+"/metrics", nil)
		r.Header.Set("Authorization", "Bearer "+tokReadAll)
		return r
	}())
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, code := range []string{"unauthorized", "forbidden"} {
		if !bytes.Contains(metrics, []byte(`grapevine_http_refusals_total{code="`+code+`"}`)) {
			t.Errorf("no refusal metric for %s", code)
		}
	}
	log := logs.String()
	if !strings.Contains(log, "API request refused") || !strings.Contains(log, "remote=127.0.0.1") {
		t.Errorf("refusals are not logged with the remote address:\n%s", log)
	}
	for _, tok := range []string{tokWriteAll, tokReadAll, tokWriteTen, tokUnknown, "0123456789"} {
		if strings.Contains(log, tok) {
			t.Errorf("the log contains a token %q", tok)
		}
	}
}

// TestAuthorizationThroughClient: the Go client sends its token and maps
// 401 and 403 to their sentinels.
func TestAuthorizationThroughClient(t *testing.T) {
	srv, _, _ := newTokenServer(t)
	ctx := context.Background()
	for _, tc := range []struct {
		ns, token string
		put, get  error
	}{
		{"", tokWriteAll, nil, nil},
		{"", "", apitype.ErrUnauthorized, apitype.ErrUnauthorized},
		{"", tokUnknown, apitype.ErrUnauthorized, apitype.ErrUnauthorized},
		{"", tokReadAll, apitype.ErrForbidden, nil},
		{"", tokWriteTen, apitype.ErrForbidden, apitype.ErrForbidden},
		{"tenant-b", tokWriteTen, nil, nil},
	} {
		var opts []client.Option
		if tc.token != "" {
			opts = append(opts, client.WithToken(tc.token))
		}
		cl, err := client.New([]string{srv.URL}, tc.ns, opts...)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cl.Put(ctx, "k", []byte("v")); !errors.Is(err, tc.put) {
			t.Errorf("ns %q token %q: Put: %v, want %v", tc.ns, tc.token, err, tc.put)
		}
		if _, err := cl.Get(ctx, "k"); !errors.Is(err, tc.get) {
			t.Errorf("ns %q token %q: Get: %v, want %v", tc.ns, tc.token, err, tc.get)
		}
	}
}

func TestCheckExposure(t *testing.T) {
	for _, tc := range []struct {
		listen           string
		tokens, insecure bool
		risky, refused   bool
	}{
		{"127.0.0.1:4100", false, false, false, false},
		{"127.1.2.3:0", false, false, false, false},
		{"[::1]:4100", false, false, false, false},
		{"localhost:4100", false, false, false, false},
		{"LocalHost:0", false, false, false, false},
		{"0.0.0.0:4100", false, false, false, true},
		{":4100", false, false, false, true},
		{"[::]:4100", false, false, false, true},
		{"192.168.1.5:4100", false, false, false, true},
		{"db.example.com:4100", false, false, false, true},
		{"garbage", false, false, false, true},
		{"0.0.0.0:4100", true, false, false, false},
		{"0.0.0.0:4100", false, true, true, false},
		{"0.0.0.0:4100", true, true, false, false},
		{"127.0.0.1:4100", false, true, false, false},
	} {
		risky, err := CheckExposure(tc.listen, tc.tokens, tc.insecure)
		if risky != tc.risky || (err != nil) != tc.refused || (err != nil && !errors.Is(err, ErrExposed)) {
			t.Errorf("CheckExposure(%q, tokens=%v, insecure=%v) = %v, %v; want risky=%v refused=%v", tc.listen, tc.tokens, tc.insecure, risky, err, tc.risky, tc.refused)
		}
	}
}

// TestServeTLS: Serve with WithTLS answers HTTPS only and records an
// https:// URL; the client trusts it with WithCACert and not without.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, certPEM := testutil.SelfSignedCert(t, dir)
	cfg, err := LoadTLS(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadTLS(keyFile, certFile); err == nil {
		t.Fatal("LoadTLS with the files swapped: no error")
	}
	n, err := node.New(context.Background(), nodetest.Config(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, n, "127.0.0.1:0", dir, testMaxValue, slog.New(slog.NewTextHandler(io.Discard, nil)),
			func(addr string) { ready <- addr }, WithTLS(cfg))
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	addr := <-ready
	recorded, err := ReadAddrFile(dir)
	if err != nil || recorded != "https://"+addr {
		t.Fatalf("the address file holds %q, %v; want https://%s", recorded, err, addr)
	}
	bg := context.Background()
	cl, err := client.New([]string{recorded}, "", client.WithCACert(certPEM))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Put(bg, "k", []byte("over TLS")); err != nil {
		t.Fatalf("Put over TLS: %v", err)
	}
	if v, err := cl.Get(bg, "k"); err != nil || string(v.Data) != "over TLS" {
		t.Fatalf("Get over TLS: %q, %v", v.Data, err)
	}
	untrusting, _ := client.New([]string{recorded}, "")
	var unknownCA x509.UnknownAuthorityError
	if _, err := untrusting.Get(bg, "k"); !errors.As(err, &unknownCA) {
		t.Errorf("Get without the CA: %v, want an unknown authority error", err)
	}
	plain, _ := client.New([]string{addr}, "")
	if _, err := plain.Get(bg, "k"); err == nil {
		t.Error("plain HTTP to the TLS port succeeded")
	}
	if _, err := client.New([]string{recorded}, "", client.WithCACert([]byte("not PEM"))); err == nil {
		t.Error("WithCACert with no certificate: no error")
	}
	if _, err := client.New([]string{recorded}, "", client.WithCACert(certPEM), client.WithHTTPClient(&http.Client{})); err == nil {
		t.Error("WithCACert and WithHTTPClient together: no error")
	}
}

func TestGrant(t *testing.T) {
	file := t.TempDir() + "/tokens"
	if err := os.WriteFile(file, []byte("w-tenant write tenant-*\nr-all read\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tokens, err := LoadTokens(file)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tokens.Grant("nope"); ok {
		t.Error("an unknown token was granted")
	}
	w, ok := tokens.Grant("w-tenant")
	if !ok || !w.CanWrite("tenant-a") || !w.CanRead("tenant-a") || w.CanRead("default") || !w.Writer() {
		t.Errorf("w-tenant: %v", w)
	}
	r, ok := tokens.Grant("r-all")
	if !ok || r.CanWrite("default") || !r.CanRead("anything") || r.Writer() {
		t.Errorf("r-all: %v", r)
	}
	if (Grant{}).CanRead("default") {
		t.Error("the zero Grant allows reading")
	}
}

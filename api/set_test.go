package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/grapevine-kv/grapevine/api/apitype"
	"github.com/grapevine-kv/grapevine/api/client"
)

// TestSetAndResetEndpoints drives sets, counter reset, the typed listing
// and get's not-found message through the Go client, as a program would.
func TestSetAndResetEndpoints(t *testing.T) {
	srv, _ := newTestServer(t)
	cl, err := client.New([]string{srv.URL}, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := cl.SetAdd(ctx, "tags", []byte("red"), []byte("blue"), []byte{0, 0xff}); err != nil {
		t.Fatal(err)
	}
	if err := cl.SetRemove(ctx, "tags", []byte("red"), []byte("absent")); err != nil {
		t.Fatal(err)
	}
	ms, err := cl.SetMembers(ctx, "tags")
	if err != nil || !slices.EqualFunc(ms, [][]byte{{0, 0xff}, []byte("blue")}, func(a, b []byte) bool { return string(a) == string(b) }) {
		t.Fatalf("SetMembers = %q, %v", ms, err)
	}
	for m, want := range map[string]bool{"blue": true, "red": false, "\x00\xff": true} {
		if ok, err := cl.SetContains(ctx, "tags", []byte(m)); ok != want || err != nil {
			t.Errorf("SetContains(%q) = %t, %v", m, ok, err)
		}
	}
	if ms, err := cl.SetMembers(ctx, "no-such-set"); err != nil || len(ms) != 0 {
		t.Errorf("absent set: %q, %v", ms, err)
	}
	if _, err := cl.Incr(ctx, "hits", 7); err != nil {
		t.Fatal(err)
	}
	if err := cl.ResetCounter(ctx, "hits"); err != nil {
		t.Fatal(err)
	}
	if v, err := cl.Counter(ctx, "hits"); v != 0 || err != nil {
		t.Fatalf("after reset: %d, %v", v, err)
	}
	if _, err := cl.Incr(ctx, "views", 2); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Put(ctx, "name", []byte("v")); err != nil {
		t.Fatal(err)
	}
	page, err := cl.List(ctx, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range page.Entries {
		b, _ := json.Marshal(e)
		got = append(got, string(b))
	}
	want := []string{
		`{"key":"name","type":"register","value":"dg==","version":` + strings.TrimPrefix(got[0], `{"key":"name","type":"register","value":"dg==","version":`),
		`{"key":"tags","type":"set","members":["AP8=","Ymx1ZQ=="]}`,
		`{"key":"views","type":"counter","counter":2}`,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("listing:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for key, msg := range map[string]string{
		"views": "key \"views\" is a counter, not a value: read it with `grapevine incr views 0`",
		"tags":  "key \"tags\" is a set, not a value: read it with `grapevine set members tags`",
		"hits":  "key not found", // reset: gone
	} {
		_, err := cl.Get(ctx, key)
		var e *apitype.Error
		if !errors.As(err, &e) || !errors.Is(err, apitype.ErrNotFound) || !strings.HasPrefix(e.Message, msg) {
			t.Errorf("Get(%s) = %v; want not_found %q", key, err, msg)
		}
	}
}

func TestSetBadInput(t *testing.T) {
	srv, _ := newTestServer(t)
	for _, c := range []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"not JSON", "POST", "/v1/set/s", "red", 400, apitype.CodeInvalidArgument},
		{"unknown field", "POST", "/v1/set/s", `{"member": ["cmVk"]}`, 400, apitype.CodeInvalidArgument},
		{"not base64", "POST", "/v1/set/s", `{"members": ["!!"]}`, 400, apitype.CodeInvalidArgument},
		{"no members", "POST", "/v1/set/s", `{"members": []}`, 400, apitype.CodeInvalidArgument},
		{"empty member", "DELETE", "/v1/set/s", `{"members": [""]}`, 400, apitype.CodeInvalidArgument},
		{"member too long", "POST", "/v1/set/s", `{"members": ["` + strings.Repeat("A", 5464) + `"]}`, 400, apitype.CodeInvalidArgument},
		{"set over the value limit", "POST", "/v1/set/s", `{"members": ["` + strings.Repeat("A", 1368) + `"]}`, 413, apitype.CodeValueTooLarge},
		{"body too large", "POST", "/v1/set/s", `{"members": ["` + strings.Repeat("A", 80<<10) + `"]}`, 413, apitype.CodeValueTooLarge},
		{"contains not base64", "GET", "/v1/set/s?member=%21", "", 400, apitype.CodeInvalidArgument},
		{"bad method", "PUT", "/v1/set/s", "", 405, apitype.CodeMethodNotAllowed},
		{"bad key", "GET", "/v1/set/a%01b", "", 400, apitype.CodeInvalidKey},
		{"reset bad namespace", "DELETE", "/v1/counter/c?ns=Bad", "", 400, apitype.CodeInvalidNamespace},
	} {
		req, _ := http.NewRequest(c.method, srv.URL+c.path, strings.NewReader(c.body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e apitype.Error
		_ = json.Unmarshal(b, &e)
		if resp.StatusCode != c.status || e.Code != c.code || e.Message == "" {
			t.Errorf("%s: %d %s, want %d %s", c.name, resp.StatusCode, b, c.status, c.code)
		}
	}
}

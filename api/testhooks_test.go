package api

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/node"
	"github.com/grapevine-kv/grapevine/node/nodetest"
)

func post(t *testing.T, url string) *http.Response {
	t.Helper()
	resp, err := http.Post(url, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestTestHooksAreOffByDefault(t *testing.T) {
	srv, _ := newTestServer(t)
	for _, path := range []string{"block?peer=x", "unblock?all=true", "isolate?on=true", "reconnect", "clock?skew=1m", "state"} {
		if resp := post(t, srv.URL+TestHookPrefix+path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("POST %s%s without test hooks: status %d, want 404", TestHookPrefix, path, resp.StatusCode)
		}
	}
}

// newHookNode starts an in-memory test node whose wall clock is hooks' (if
// not nil).
func newHookNode(tb testing.TB, hooks *TestHooks) *node.Node {
	tb.Helper()
	cfg := nodetest.Config(tb)
	cfg.MaxValueSize = testMaxValue
	if hooks != nil {
		cfg.Wall = hooks.Wall
	}
	return nodetest.Start(tb, cfg)
}

func TestTestHooks(t *testing.T) {
	h := NewTestHooks()
	srv, n := newHookServer(t, h)

	if resp := post(t, srv.URL+TestHookPrefix+"clock?skew=-90s"); resp.StatusCode != 200 {
		t.Fatalf("clock: status %d", resp.StatusCode)
	}
	if h.Skew() != -90*time.Second {
		t.Fatalf("Skew = %s, want -1m30s", h.Skew())
	}
	if d := time.Until(h.Wall()); d > -89*time.Second || d < -91*time.Second {
		t.Fatalf("Wall is %s from now, want about -90s", d)
	}
	if resp := post(t, srv.URL+TestHookPrefix+"clock?skew=soon"); resp.StatusCode != 400 {
		t.Fatalf("clock with a bad duration: status %d, want 400", resp.StatusCode)
	}
	id := n.Peer().ID().String() // any valid peer ID will do
	if resp := post(t, srv.URL+TestHookPrefix+"block?peer="+id); resp.StatusCode != 200 {
		t.Fatalf("block: status %d", resp.StatusCode)
	}
	if resp := post(t, srv.URL+TestHookPrefix+"block?peer=nonsense"); resp.StatusCode != 400 {
		t.Fatalf("block with a bad ID: status %d, want 400", resp.StatusCode)
	}
	if resp := post(t, srv.URL+TestHookPrefix+"isolate?on=true"); resp.StatusCode != 200 {
		t.Fatalf("isolate: status %d", resp.StatusCode)
	}
	resp, err := http.Get(srv.URL + TestHookPrefix + "state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st TestHookState
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	if !st.Isolated || len(st.Blocked) != 1 || st.Blocked[0] != id || st.Skew != "-1m30s" {
		t.Fatalf("state = %+v", st)
	}
	post(t, srv.URL+TestHookPrefix+"unblock?all=true")
	if n.Peer().Isolated() || len(n.Peer().Blocked()) != 0 {
		t.Fatal("unblock?all=true left blocks in place")
	}
	if resp := post(t, srv.URL+TestHookPrefix+"reconnect"); resp.StatusCode != 200 {
		t.Fatalf("reconnect: status %d", resp.StatusCode)
	}
	if resp, err := http.Get(srv.URL + TestHookPrefix + "block"); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET block: %v %v", resp.StatusCode, err)
	} else {
		resp.Body.Close()
	}
}

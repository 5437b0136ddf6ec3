package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/api/apitype"
	"github.com/grapevine-kv/grapevine/api/client"
)

// TestWatchSinceAnswers: what GET /v1/watch answers for each since= and
// peer=, headers included.
func TestWatchSinceAnswers(t *testing.T) {
	srv, n := newTestServer(t)
	ctx := context.Background()
	for _, k := range []string{"a", "b", "a"} {
		if _, err := n.Put(ctx, "", []byte(k), []byte("v-"+k)); err != nil {
			t.Fatal(err)
		}
	}
	self := n.Peer().ID().String()
	cases := []struct {
		name, query string
		status      int
		code        string
		lines       string // the replayed lines (keys and indexes) for a 200
	}{
		{"live", "", 200, "", ""},
		{"since 0", "since=0", 200, "", "[b@2 a@3]"},
		{"since with this peer", "since=2&peer=" + self, 200, "", "[a@3]"},
		{"since the last index", "since={last}", 200, "", "[]"},
		{"since not a number", "since=x", 400, apitype.CodeInvalidArgument, ""},
		{"peer without since", "peer=" + self, 400, apitype.CodeInvalidArgument, ""},
		{"since ahead of the log", "since={next}", 410, apitype.CodeCompacted, ""},
		{"since of another peer", "since=1&peer=12D3KooWother", 410, apitype.CodeCompacted, ""},
		{"bad namespace", "since=0&ns=A", 400, apitype.CodeInvalidNamespace, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			last := n.LastIndex()
			q := strings.NewReplacer("{last}", fmt.Sprint(last), "{next}", fmt.Sprint(last+1)).Replace(tc.query)
			req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v1/watch?"+q, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.status != 400 {
				if got := resp.Header.Get(apitype.PeerHeader); got != self {
					t.Errorf("%s %q, want %q", apitype.PeerHeader, got, self)
				}
				if got := resp.Header.Get(apitype.IndexHeader); got != strconv.FormatUint(last, 10) {
					t.Errorf("%s %q, want %d", apitype.IndexHeader, got, last)
				}
			}
			if tc.status != 200 {
				var e apitype.Error
				if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || e.Code != tc.code || e.Message == "" {
					t.Fatalf("error body %+v (%v), want code %s with a message", e, err, tc.code)
				}
				return
			}
			// A put after the replay marks its end.
			if _, err := n.Put(ctx, "", []byte("end"), nil); err != nil {
				t.Fatal(err)
			}
			var got []string
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				var ev apitype.Event
				if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
					t.Fatal(err)
				}
				if ev.Key == "end" {
					break
				}
				got = append(got, fmt.Sprintf("%s@%d", ev.Key, ev.Index))
			}
			if fmt.Sprint(got) != tc.lines && !(tc.lines == "" && got == nil) {
				t.Fatalf("replayed %v, want %s", got, tc.lines)
			}
		})
	}
}

// flaky serves h, but while down answers watch requests 503 and drops the
// streams in progress, as a restarting daemon does.
type flaky struct {
	h    http.Handler
	down atomic.Bool
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.down.Load() && r.URL.Path == "/v1/watch" {
		http.Error(w, `{"code":"unavailable","message":"restarting"}`, http.StatusServiceUnavailable)
		return
	}
	f.h.ServeHTTP(w, r)
}

// watchInto runs cl.WatchWith in the background, sending events to the
// returned channel; the watch ends at cleanup.
func watchInto(t *testing.T, cl *client.Client, opts client.WatchOptions) <-chan apitype.Event {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	events := make(chan apitype.Event, 1000)
	done := make(chan error, 1)
	go func() { done <- cl.WatchWith(ctx, opts, func(ev apitype.Event) error { events <- ev; return nil }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("WatchWith returned %v", err)
		}
	})
	return events
}

// until reads events until every key of want shows its wanted state
// ("del" for a deletion, else the value or counter), and returns them all.
func until(t *testing.T, events <-chan apitype.Event, want map[string]string) []apitype.Event {
	t.Helper()
	state := map[string]string{}
	var all []apitype.Event
	deadline := time.After(30 * time.Second)
	for {
		ok := true
		for k, v := range want {
			ok = ok && state[k] == v
		}
		if ok {
			return all
		}
		select {
		case ev := <-events:
			all = append(all, ev)
			switch {
			case ev.Deleted:
				state[ev.Key] = "del"
			case ev.Type == "counter":
				state[ev.Key] = strconv.FormatInt(ev.Counter, 10)
			default:
				state[ev.Key] = string(ev.Value)
			}
		case <-deadline:
			t.Fatalf("events %+v; state %v, want %v", all, state, want)
		}
	}
}

// TestClientWatchResumes: a watch whose stream breaks while the daemon is
// unavailable gets, once it is back, every change made meanwhile, ending
// on each key's final state.
func TestClientWatchResumes(t *testing.T) {
	n := newHookNode(t, nil)
	f := &flaky{h: NewServer(n, testMaxValue, slog.New(slog.NewTextHandler(io.Discard, nil)))}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	cl, _ := client.New([]string{srv.URL}, "")
	ctx, must := context.Background(), mustf(t)
	var retries atomic.Int64
	events := watchInto(t, cl, client.WatchOptions{OnRetry: func(error) { retries.Add(1) }})
	waitStream(t, cl, events)
	f.down.Store(true)
	srv.CloseClientConnections()
	before := retries.Load()
	must(n.Put(ctx, "", []byte("a"), []byte("2")))
	must(nil, n.Delete(ctx, "", []byte("probe")))
	must(n.Incr(ctx, "", []byte("c"), 7))
	for retries.Load() < before+2 { // the stream broke and a retry was refused
		select {
		case ev := <-events:
			t.Fatalf("event %+v while the daemon was down", ev)
		case <-time.After(10 * time.Millisecond):
		}
	}
	f.down.Store(false)
	until(t, events, map[string]string{"a": "2", "probe": "del", "c": "7"})
}

// TestClientWatchFailsOver: when the peer it watched goes away, the watch
// fails over to the next endpoint, another peer whose indexes differ: it
// re-reads the keys there, reports what differs (a key that peer lacks as
// deleted), and continues live.
func TestClientWatchFailsOver(t *testing.T) {
	srv1, n1 := newTestServer(t)
	srv2, n2 := newTestServer(t)
	ctx, must := context.Background(), mustf(t)
	must(n2.Put(ctx, "", []byte("only-on-2"), []byte("x")))
	must(n2.Put(ctx, "", []byte("probe"), []byte("from-2")))
	cl, _ := client.New([]string{srv1.URL, srv2.URL}, "")
	events := watchInto(t, cl, client.WatchOptions{})
	waitStream(t, cl, events)
	must(n1.Put(ctx, "", []byte("only-on-1"), []byte("y")))
	until(t, events, map[string]string{"only-on-1": "y"})
	stopServer(srv1)
	got := until(t, events, map[string]string{"only-on-1": "del", "only-on-2": "x", "probe": "from-2"})
	for _, ev := range got {
		if ev.Key == "probe" && ev.Deleted {
			t.Errorf("probe reported deleted; it exists on both peers")
		}
	}
	must(n2.Put(ctx, "", []byte("live"), []byte("on-2")))
	until(t, events, map[string]string{"live": "on-2"})
}

// waitStream writes the key probe until its event arrives: the watch is
// then streaming.
func waitStream(t *testing.T, cl *client.Client, events <-chan apitype.Event) {
	t.Helper()
	must := mustf(t)
	for i := 0; ; i++ {
		must(cl.Put(context.Background(), "probe", []byte(fmt.Sprint(i))))
		select {
		case ev := <-events:
			if ev.Key == "probe" {
				for len(events) > 0 {
					<-events
				}
				return
			}
		case <-time.After(50 * time.Millisecond):
		}
		if i > 600 {
			t.Fatal("the watch never streamed")
		}
	}
}

// mustf returns a checker of a call's error: must(cl.Put(...)).
func mustf(t *testing.T) func(any, error) {
	return func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// stopServer stops srv as a crashed peer would: it stops accepting first,
// so that a client reconnecting at once cannot open a new long request
// that httptest's Close would wait for, then cuts every connection.
func stopServer(srv *httptest.Server) {
	_ = srv.Listener.Close()
	srv.CloseClientConnections()
	srv.Close()
}

package api

import (
	"bytes"
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/api/apitype"
	"github.com/grapevine-kv/grapevine/api/client"
	"github.com/grapevine-kv/grapevine/internal/testutil"
)

// typedState is what an event says of its key, under "type/key": a
// register's value or "del", a counter's value (with " reset"), a set's
// members.
func typedState(ev apitype.Event) (name, state string) {
	name = ev.Type + "/" + ev.Key
	switch {
	case ev.Type == "counter":
		state = strconv.FormatInt(ev.Counter, 10)
		if ev.Reset {
			state += " reset"
		}
	case ev.Type == "set":
		state = "[" + string(bytes.Join(ev.Members, []byte(" "))) + "]"
	case ev.Deleted || ev.Expired:
		state = "del"
	default:
		state = string(ev.Value)
	}
	return name, state
}

// untilTyped reads events until every "type/key" of want shows its wanted
// state (see typedState), and returns them all.
func untilTyped(t *testing.T, events <-chan apitype.Event, want map[string]string) []apitype.Event {
	t.Helper()
	state := map[string]string{}
	var all []apitype.Event
	deadline := time.After(testutil.EventuallyTimeout)
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
			name, s := typedState(ev)
			state[name] = s
		case <-deadline:
			t.Fatalf("states %v, want %v", state, want)
		}
	}
}

// TestClientWatchRereadsEveryType: when the watch fails over to a peer
// whose indexes differ, its re-read compares counters and sets as well as
// registers, per type under one name: a counter or set that differs, is
// new, or is gone there (reset, emptied) is reported; a state that is the
// same is not.
func TestClientWatchRereadsEveryType(t *testing.T) {
	srv1, n1 := newTestServer(t)
	srv2, n2 := newTestServer(t)
	ctx, must := context.Background(), mustf(t)
	b := func(s string) []byte { return []byte(s) }
	must(n2.Incr(ctx, "", b("dup"), 2))
	must(n2.Incr(ctx, "", b("c"), 5))
	must(n2.Incr(ctx, "", b("new"), 4))
	must(nil, n2.SetAdd(ctx, "", b("s"), b("a"), b("b")))
	must(nil, n2.SetAdd(ctx, "", b("s2"), b("z")))
	cl, _ := client.New([]string{srv1.URL, srv2.URL}, "")
	events := watchInto(t, cl, client.WatchOptions{})
	waitStream(t, cl, events)
	must(n1.Put(ctx, "", b("dup"), b("r1")))
	must(n1.Incr(ctx, "", b("dup"), 2))
	must(n1.Incr(ctx, "", b("c"), 3))
	must(n1.Incr(ctx, "", b("gone"), 1))
	must(nil, n1.SetAdd(ctx, "", b("s"), b("a")))
	must(nil, n1.SetAdd(ctx, "", b("emptied"), b("x")))
	untilTyped(t, events, map[string]string{"register/dup": "r1", "counter/dup": "2", "counter/c": "3",
		"counter/gone": "1", "set/s": "[a]", "set/emptied": "[x]"})

	stopServer(srv1)
	got := untilTyped(t, events, map[string]string{
		"register/probe": "del", "register/dup": "del", // registers as before
		"counter/c": "5", "counter/new": "4", "counter/gone": "0 reset",
		"set/s": "[a b]", "set/s2": "[z]", "set/emptied": "[]",
	})
	for _, ev := range got {
		if name, s := typedState(ev); name == "counter/dup" {
			t.Errorf("counter dup reported again (%s) though it is 2 on both peers", s)
		}
	}
}

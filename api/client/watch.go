package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/grapevine-kv/grapevine/api/apitype"
)

// WatchOptions configures WatchWith.
type WatchOptions struct {
	// Prefix restricts the watch to keys starting with it.
	Prefix string
	// Since, if not 0, starts after this change index of peer Peer (an
	// earlier watch's last Event.Index, and its peer from WatchWith's
	// position); Peer "" trusts the index to be the answering peer's.
	// Default: changes from now on.
	Since uint64
	Peer  string
	// OnRetry, if set, is called with the reason each time the watch
	// reconnects or re-reads the keys (for a log line). It must not block.
	OnRetry func(error)
}

// Watch is WatchWith with only a prefix: every change of keys starting
// with it, from now on, until ctx is done or fn returns an error.
func (c *Client) Watch(ctx context.Context, prefix string, fn func(apitype.Event) error) error {
	return c.WatchWith(ctx, WatchOptions{Prefix: prefix}, fn)
}

// Watch retry delays: after a failed connection the watch waits
// watchRetryMin, doubling up to watchRetryMax, before trying again.
const (
	watchRetryMin = 50 * time.Millisecond
	watchRetryMax = 2 * time.Second
)

// ErrWatchRefused wraps the answer of a daemon that refused a watch for a
// reason retrying cannot fix (a bad token or namespace, a malformed
// request, a namespace the peer does not replicate: no_holder).
var ErrWatchRefused = errors.New("client: watch refused")

// WatchWith streams the changes of keys with opts.Prefix to fn, in the
// order the daemon applied them, until ctx is done (then it returns nil)
// or fn returns an error (returned as is). It survives what interrupts a
// stream: a lost connection, a daemon restart, a watcher dropped for
// falling behind — it reconnects, failing over between the endpoints, and
// resumes from the last change index seen, so nothing is missed. When the
// index cannot be used — the daemon trimmed its change log past it (410
// compacted), or another peer answers, whose indexes differ — it re-reads
// the keys under the prefix, calls fn for each that differs from what fn
// last saw (a key gone since is reported deleted), and continues from the
// index the daemon gave with its refusal.
//
// Delivery is at least once: fn may see a change twice, but the last event
// fn sees for a key is the key's current state. To tell what differs after
// a re-read, WatchWith remembers the last event of every key it reported,
// per type (a name may hold a register, a counter and a set at once). A
// re-read compares every type: a register by value and version, a counter
// by value, a set by members. A state the listing no longer shows is
// reported gone: a register deleted (or expired), a counter reset (0, with
// Reset), a set emptied (no members).
func (c *Client) WatchWith(ctx context.Context, opts WatchOptions, fn func(apitype.Event) error) error {
	w := &watch{c: c, opts: opts, fn: fn, since: opts.Since, resume: opts.Since != 0, peer: opts.Peer, seen: map[string]apitype.Event{}}
	return w.run(ctx)
}

// watch is the state of one WatchWith.
type watch struct {
	c      *Client
	opts   WatchOptions
	fn     func(apitype.Event) error
	since  uint64 // last index seen
	resume bool   // since is set: resume after it (else start live)
	peer   string // the peer since belongs to
	seen   map[string]apitype.Event
}

// errFn marks an error returned by the caller's fn.
type errFn struct{ err error }

func (e errFn) Error() string { return e.err.Error() }

func (w *watch) run(ctx context.Context) error {
	delay := watchRetryMin
	for {
		connected, err := w.stream(ctx)
		var fe errFn
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.As(err, &fe):
			return fe.err
		case errors.Is(err, ErrWatchRefused):
			return err
		}
		if connected {
			delay = watchRetryMin
		}
		if w.opts.OnRetry != nil && err != nil {
			w.opts.OnRetry(err)
		}
		if connected {
			continue // the stream ran: reconnect at once
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
		delay = min(2*delay, watchRetryMax)
	}
}

// stream runs one watch request to its end. connected reports that a
// daemon answered usefully (so the next attempt need not wait).
func (w *watch) stream(ctx context.Context) (connected bool, err error) {
	q := url.Values{}
	if w.opts.Prefix != "" {
		q.Set("prefix", w.opts.Prefix)
	}
	if w.resume {
		q.Set("since", strconv.FormatUint(w.since, 10))
		if w.peer != "" {
			q.Set("peer", w.peer)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	resp, err := w.c.send(withoutTimeout(ctx), http.MethodGet, "/v1/watch", q, nil)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	peer := resp.Header.Get(apitype.PeerHeader)
	index, _ := strconv.ParseUint(resp.Header.Get(apitype.IndexHeader), 10, 64)
	switch {
	case resp.StatusCode == http.StatusGone:
		reason := decodeError(resp)
		if err := w.resync(ctx); err != nil {
			return false, err
		}
		w.since, w.peer, w.resume = index, peer, true
		return true, fmt.Errorf("client: re-read the keys, the change index could not be used: %w", reason)
	case resp.StatusCode >= 500:
		err := decodeError(resp)
		if errors.Is(err, apitype.ErrNoHolder) {
			// The peer does not replicate the namespace and never
			// forwards a watch: the message names holders to watch.
			return false, fmt.Errorf("%w: %w", ErrWatchRefused, err)
		}
		return false, err
	case resp.StatusCode >= 400:
		return false, fmt.Errorf("%w: %w", ErrWatchRefused, decodeError(resp))
	}
	if !w.resume {
		w.since, w.resume = index, true // nothing after it is missed
	}
	w.peer = peer
	dec := json.NewDecoder(resp.Body)
	for {
		var ev apitype.Event
		if err := dec.Decode(&ev); err != nil {
			return true, fmt.Errorf("client: watch stream ended: %w", err)
		}
		if ev.Dropped {
			w.since = max(w.since, ev.Index)
			return true, fmt.Errorf("client: %s", ev.Message)
		}
		if err := w.emit(ev); err != nil {
			return true, err
		}
		w.since = max(w.since, ev.Index)
	}
}

// emit hands ev to fn and remembers it.
func (w *watch) emit(ev apitype.Event) error {
	if err := w.fn(ev); err != nil {
		return errFn{err}
	}
	w.seen[stateKey(ev.Type, ev.Key)] = ev
	return nil
}

// stateKey names the state of one type of a key in watch.seen.
func stateKey(typ, key string) string { return typ + "\x00" + key }

// resync re-reads the keys under the prefix, every type, and emits what
// differs from what was seen, states gone included.
func (w *watch) resync(ctx context.Context) error {
	listed := map[string]bool{}
	after := ""
	for {
		page, err := w.c.List(ctx, ListOptions{Prefix: w.opts.Prefix, After: after, Limit: apitype.MaxListLimit})
		if err != nil {
			return err
		}
		for _, e := range page.Entries {
			ev := listedEvent(e)
			sk := stateKey(ev.Type, ev.Key)
			listed[sk] = true
			if old, ok := w.seen[sk]; !ok || !sameState(old, ev) {
				if err := w.emit(ev); err != nil {
					return err
				}
			}
		}
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	for sk, old := range w.seen {
		if listed[sk] {
			continue
		}
		if ev := goneEvent(old); !sameState(old, ev) {
			if err := w.emit(ev); err != nil {
				return err
			}
		}
	}
	return nil
}

// listedEvent is the event showing the state of a listed entry. An entry
// without a type (from a daemon that listed registers only) is a register.
func listedEvent(e apitype.Entry) apitype.Event {
	ev := apitype.Event{Key: e.Key, Type: e.Type}
	switch e.Type {
	case "counter":
		if e.Counter != nil {
			ev.Counter = *e.Counter
		}
	case "set":
		ev.Members = e.Members
	default:
		ev.Type, ev.Value, ev.Version = "register", e.Value, e.Version
	}
	return ev
}

// goneEvent is the event of a state a listing omits: a deleted or expired
// register, a counter reset with nothing counted since, an empty set.
func goneEvent(old apitype.Event) apitype.Event {
	ev := apitype.Event{Key: old.Key, Type: old.Type}
	switch old.Type {
	case "counter":
		ev.Reset = true
	case "set":
	default:
		ev.Deleted = true
	}
	return ev
}

// sameState reports whether two events of a key show the same state of
// one type: the same register value and version (or both absent), counter
// value, or set members.
func sameState(a, b apitype.Event) bool {
	if a.Type != b.Type {
		return false
	}
	switch a.Type {
	case "counter":
		return a.Counter == b.Counter
	case "set":
		return slices.EqualFunc(a.Members, b.Members, bytes.Equal)
	}
	if goneA, goneB := a.Deleted || a.Expired, b.Deleted || b.Expired; goneA || goneB {
		return goneA == goneB
	}
	return a.Version == b.Version && bytes.Equal(a.Value, b.Value)
}

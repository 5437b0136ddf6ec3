package node

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/storage"
)

// replayPage is how many change-log entries one replay step reads.
const replayPage = 1000

// LastIndex returns the peer's greatest committed change index: a watch
// that starts now misses no change after it, so WatchSince(LastIndex())
// taken before reading keys continues exactly after what was read. It
// never blocks.
func (n *Node) LastIndex() uint64 { return n.db.LastIndex() }

// WatchSince is Watch that first replays the changes after index since: for
// every key of ns with prefix changed after it and still in the change log,
// its current state (with the index of its latest change), then the live
// changes, with no gap between the two. A key whose value has expired
// meanwhile is replayed as an expire event (Expired), as a reader sees it:
// absent. Delivery is at least once: a key may come twice, but its last
// event is always its current state. It fails with ErrCompacted (and
// watches nothing) if the changes after since are not all in the log, or
// since is ahead of this peer's last index.
//
// An expiry is not a change (see expireLoop): the value of a key that did
// not change after since and expired while the watcher was away is not
// replayed; reading the key shows it absent.
//
// The replay runs in a goroutine owned by the node; the channel closes as
// Watch's does (after a Dropped event if the reader fell behind), or early
// if the log was trimmed past the replay meanwhile: then resume from the
// last Index received, as after a disconnect.
func (n *Node) WatchSince(ctx context.Context, ns string, prefix []byte, since uint64) (<-chan Event, error) {
	ns, err := n.check(ns, []byte{0})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	// Subscribe first, then read the log: a change after the first page's
	// snapshot is then either in a later page or in live.
	live, err := n.Watch(ctx, ns, prefix)
	if err != nil {
		cancel()
		return nil, err
	}
	opts := storage.ChangesOptions{Namespace: ns, Prefix: prefix, Limit: replayPage}
	page, err := n.db.Changes(since, opts)
	if err != nil {
		cancel()
		if errors.Is(err, storage.ErrCompacted) {
			why := strings.TrimPrefix(err.Error(), storage.ErrCompacted.Error()+": ")
			return nil, fmt.Errorf("%w: %s; read the keys again, then watch since %d", ErrCompacted, why, n.LastIndex())
		}
		return nil, translate(err, ErrStorage)
	}
	out := make(chan Event, 256)
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		defer close(out)
		defer cancel()
		if upTo, ok := n.replay(ctx, page, opts, out); ok {
			n.forward(ctx, live, upTo, out)
		}
	}()
	return out, nil
}

// replay sends the changes of page and of the pages after it, and returns
// the last index it covered. ok is false if it stopped early: ctx or the
// node ended, or the log could not be read (trimmed past the replay); the
// watch must then end, as live events would leave a gap.
func (n *Node) replay(ctx context.Context, page storage.ChangePage, opts storage.ChangesOptions, out chan<- Event) (upTo uint64, ok bool) {
	for {
		now := n.now()
		for _, c := range page.Changes {
			ev := replayEvent(c, now)
			if !n.send(ctx, out, ev) {
				return 0, false
			}
		}
		if !page.More {
			return page.Last, true
		}
		next, err := n.db.Changes(page.Last, opts)
		if err != nil {
			// The caller resumes from the last index it received.
			n.log.Debug("watch replay stopped", "namespace", opts.Namespace, "after", page.Last, "err", err)
			return 0, false
		}
		page = next
	}
}

// replayEvent is the event of a replayed change: the key's state when its
// page was read, or its expiry if that state is a value expired at now.
func replayEvent(c storage.Change, now crdt.Timestamp) Event {
	if r, ok := c.State.(crdt.Register); ok && r.Expired(now) {
		return expiredEvent(c.Namespace, c.Key, r, c.Index)
	}
	ev := eventOf(c.Namespace, c.Key, c.State)
	ev.Type, ev.Index = c.Type, c.Index
	return *ev
}

// forward passes live events on, skipping the changes the replay covered
// (index at most upTo: the replay sent the key's newer state). An expire
// event is not a change and is always passed on (the replay may have sent
// the value before it expired), as is the Dropped event; the resume index
// of both then includes what the replay covered.
func (n *Node) forward(ctx context.Context, live <-chan Event, upTo uint64, out chan<- Event) {
	for {
		select {
		case ev, ok := <-live:
			if !ok {
				return
			}
			if ev.Dropped || ev.Expired {
				ev.Index = max(ev.Index, upTo)
			} else if ev.Index <= upTo {
				continue
			}
			if !n.send(ctx, out, ev) {
				return
			}
		case <-ctx.Done():
			return
		case <-n.ctx.Done():
			return
		}
	}
}

// send delivers ev unless ctx or the node ends first.
func (n *Node) send(ctx context.Context, out chan<- Event, ev Event) bool {
	select {
	case out <- ev:
		return true
	case <-ctx.Done():
		return false
	case <-n.ctx.Done():
		return false
	}
}

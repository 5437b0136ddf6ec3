package node

import (
	"bytes"
	"context"

	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/storage"
)

// WatchBuffer is how many events a watcher may fall behind before it is
// dropped (sent a Dropped event, then its channel closed), as a slow
// reader must not stall writes.
const WatchBuffer = 4096

// Event is a change of one key, local or replicated.
type Event struct {
	Namespace string
	Key       []byte
	Type      crdt.Type
	Value     Value    // for a register (empty when Deleted)
	Deleted   bool     // the register was deleted (or, replayed, is gone)
	Expired   bool     // the register's value expired (Value: the version that did, without data)
	Counter   int64    // for a counter: its new value
	Reset     bool     // the counter was reset (and nothing counted since)
	Members   [][]byte // for a set: its members after the change
	// Index is the change's index on this peer (storage.Result.Index):
	// pass the last one received to WatchSince to resume. Indexes of
	// different peers are unrelated. An expiry is not a change: its event
	// carries the index of the change sent before it (see expireLoop).
	Index uint64
	// Dropped marks the last event of a watcher that fell more than
	// WatchBuffer events behind; it carries no change, and Index is the
	// last index queued before it: resume with WatchSince from there.
	Dropped bool
}

type watcher struct {
	ns     string
	prefix []byte
	ch     chan Event
	last   uint64 // index of the last event queued (guarded by n.mu)
}

// Watch streams every change of keys with prefix in namespace ns, from now
// on, until ctx is done. The channel is closed when ctx is done, when the
// node closes, or after a Dropped event when the watcher falls more than
// WatchBuffer events behind; then resume with WatchSince from the last
// Index received. A namespace this peer does not replicate is not
// watched here: ErrNoHolder names peers that hold it (see forward.go).
func (n *Node) Watch(ctx context.Context, ns string, prefix []byte) (<-chan Event, error) {
	ns, err := n.check(ns, []byte{0})
	if err != nil {
		return nil, err
	}
	if !n.replicates(ns) {
		return nil, n.watchElsewhere(ctx, ns)
	}
	if err := n.join(ns); err != nil {
		return nil, err
	}
	// One slot more than WatchBuffer, kept for the Dropped event.
	w := &watcher{ns: ns, prefix: append([]byte{}, prefix...), ch: make(chan Event, WatchBuffer+1)}
	n.mu.Lock()
	if n.mu.closed {
		n.mu.Unlock()
		return nil, ErrClosed
	}
	if n.mu.watchers == nil {
		n.mu.watchers = make(map[*watcher]struct{})
	}
	n.mu.watchers[w] = struct{}{}
	n.mu.Unlock()
	context.AfterFunc(ctx, func() { n.unwatch(w) })
	return w.ch, nil
}

func (n *Node) unwatch(w *watcher) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.mu.watchers[w]; ok {
		delete(n.mu.watchers, w)
		close(w.ch)
	}
}

// notify sends the committed changes of one apply round to the watchers.
func (n *Node) notify(ops []storage.Op, results []storage.Result) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.mu.watchers) == 0 {
		return
	}
	for i, res := range results {
		if !res.Changed || res.Err != nil {
			continue
		}
		op := ops[i]
		var ev *Event
		for w := range n.mu.watchers {
			if w.ns != op.Namespace || !bytes.HasPrefix(op.Key, w.prefix) {
				continue
			}
			if ev == nil {
				ev = eventOf(op.Namespace, op.Key, res.State)
				ev.Index = res.Index
			}
			n.queueLocked(w, *ev)
		}
	}
}

// queueLocked queues ev for w or, if w is WatchBuffer events behind, ends
// it: too slow, it is dropped rather than block writes. Every sender
// (notify, the expire loop) holds n.mu and goes through here, so len(w.ch)
// only shrinks meanwhile and the spare slot is free for the Dropped event.
func (n *Node) queueLocked(w *watcher, ev Event) {
	if len(w.ch) >= WatchBuffer {
		w.ch <- Event{Namespace: w.ns, Index: w.last, Dropped: true}
		delete(n.mu.watchers, w)
		close(w.ch)
		return
	}
	w.ch <- ev
	w.last = ev.Index
}

// eventOf is the event of key's state st; a nil st (a key gone from
// storage) is a deletion.
func eventOf(ns string, key []byte, st crdt.State) *Event {
	ev := &Event{Namespace: ns, Key: key}
	if st == nil {
		ev.Deleted = true
		return ev
	}
	ev.Type = st.Type()
	switch s := st.(type) {
	case crdt.Register:
		ev.Deleted = s.Deleted
		ev.Value = valueOf(s)
	case crdt.Counter:
		ev.Counter, ev.Reset = s.Value(), s.IsReset()
	case crdt.Set:
		ev.Members = s.Members()
	}
	return ev
}

// closeWatchers ends every watch (on Close).
func (n *Node) closeWatchers() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for w := range n.mu.watchers {
		delete(n.mu.watchers, w)
		close(w.ch)
	}
}

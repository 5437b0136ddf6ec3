package node

import (
	"bytes"
	"time"

	"github.com/grapevine-kv/grapevine/crdt"
)

// expiryTick is how often the node looks for values that expired, to tell
// watchers: an expire event comes at most this late.
const expiryTick = 100 * time.Millisecond

// expiredEvent is the event of key's register r once its value has
// expired: the version that expired and its expiry, without the data.
func expiredEvent(ns string, key []byte, r crdt.Register, index uint64) Event {
	return Event{Namespace: ns, Key: key, Type: crdt.TypeRegister, Expired: true, Index: index,
		Value: Value{Version: r.Time, Origin: r.Origin, Expires: r.ExpiresAt().Time()}}
}

// expireLoop emits one expire event per expired value to the watchers of
// its key, reading the storage's expiry index for each span of wall time
// once. Reads see a value as absent from its expiry on, whether or not the
// event was sent.
//
// An expiry is not a change: nothing is written when a value expires, so
// it has no change index and is not in the change log. Its event carries
// the index of the last event queued to the watcher before it (0 if none),
// so resuming from it loses nothing. The loop reports the expiries of its
// own lifetime only: one that fell while the node was down, or while a
// watcher was away, is not announced; WatchSince replays a key whose value
// has expired as an expire event only if the key changed after since.
func (n *Node) expireLoop() {
	defer n.wg.Done()
	t := time.NewTicker(expiryTick)
	defer t.Stop()
	from := n.now() + 1 // expiries up to now are not news
	for {
		select {
		case <-t.C:
		case <-n.ctx.Done():
			return
		}
		to := n.now() + 1
		if to <= from {
			continue
		}
		if !n.watching() {
			from = to
			continue
		}
		list, err := n.db.Expiring(from, to)
		if err != nil {
			if n.ctx.Err() == nil {
				n.log.Warn("reading expired keys for watchers", "err", err)
			}
			continue // the same span again on the next tick
		}
		from = to
		if len(list) == 0 {
			continue
		}
		n.mu.Lock()
		for _, e := range list {
			for w := range n.mu.watchers {
				if w.ns == e.Namespace && bytes.HasPrefix(e.Key, w.prefix) {
					n.queueLocked(w, expiredEvent(e.Namespace, e.Key, e.State, w.last))
				}
			}
		}
		n.mu.Unlock()
	}
}

// watching reports whether any watcher is registered.
func (n *Node) watching() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.mu.watchers) > 0
}

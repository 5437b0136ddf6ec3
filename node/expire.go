package node

import (
	"bytes"
	"time"

	"github.com/grapevine-kv/grapevine/crdt"
)

// expiryTick is how often the node looks for values that expired, to tell
// watchers: an expire event comes at most this late.
const expiryTick = 100 * time.Millisecond

// expireLoop emits one expire event per expired value to the watchers of
// its key, reading the storage's expiry index for each span of wall time
// once (so an expiry is reported once per process; expiries that happened
// while the node was down are not reported). Reads see a value as absent
// from its expiry on, whether or not the event was sent.
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
			ev := Event{Namespace: e.Namespace, Key: e.Key, Type: crdt.TypeRegister, Expired: true,
				Value: Value{Version: e.State.Time, Origin: e.State.Origin, Expires: e.State.ExpiresAt().Time()}}
			for w := range n.mu.watchers {
				if w.ns != e.Namespace || !bytes.HasPrefix(e.Key, w.prefix) {
					continue
				}
				select { // as in notify: a watcher too slow is dropped
				case w.ch <- ev:
				default:
					delete(n.mu.watchers, w)
					close(w.ch)
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

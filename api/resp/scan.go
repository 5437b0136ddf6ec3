package resp

import (
	"bytes"
	"context"
	"math/rand/v2"
	"strconv"
	"sync"

	"github.com/grapevine-kv/grapevine/node"
	"github.com/tidwall/redcon"
)

// maxCursors is how many SCAN cursors the server keeps; the oldest is
// forgotten first (a client that comes back with it gets "invalid cursor").
const maxCursors = 4096

// cursor is where a SCAN stopped: the last key it answered, in a namespace.
type cursor struct {
	ns    string
	after []byte
}

// cursors maps the numbers SCAN answers to where it stopped. Clients such
// as go-redis take their connections from a pool, so a cursor is valid on
// every connection, for its namespace only. Safe for concurrent use.
type cursors struct {
	max int
	mu  struct {
		sync.Mutex
		m     map[uint64]cursor
		order []uint64 // oldest first
	}
}

func newCursors(max int) *cursors {
	c := &cursors{max: max}
	c.mu.m = make(map[uint64]cursor)
	return c
}

// put stores cur and returns its number (never 0, which starts a scan).
func (c *cursors) put(cur cursor) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := rand.Uint64()
	for id == 0 || c.mu.m[id].after != nil {
		id = rand.Uint64()
	}
	if len(c.mu.order) >= c.max {
		delete(c.mu.m, c.mu.order[0])
		c.mu.order = c.mu.order[1:]
	}
	c.mu.m[id] = cur
	c.mu.order = append(c.mu.order, id)
	return id
}

// get returns the cursor numbered id.
func (c *cursors) get(id uint64) (cursor, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cur, ok := c.mu.m[id]
	return cur, ok
}

// SCAN cursor [MATCH prefix*] [COUNT n]: keys of every type in key order,
// about COUNT names a call, each name once.
func cmdScan(ctx context.Context, s *session, w *redcon.Writer, args [][]byte) {
	o, err := parseScan(args[1:])
	if err != nil {
		w.WriteError(err.Error())
		return
	}
	opts := node.ListOptions{Prefix: []byte(o.prefix), Limit: o.count}
	if o.cursor != 0 {
		cur, ok := s.srv.cursors.get(o.cursor)
		if !ok || cur.ns != s.ns {
			w.WriteError("ERR invalid cursor: unknown, too old, or from another namespace; start again with SCAN 0")
			return
		}
		opts.After = cur.after
	}
	page, err := s.srv.node.List(ctx, s.ns, opts)
	if err != nil {
		w.WriteError(errorReply(err))
		return
	}
	var keys [][]byte
	for _, e := range page.Entries {
		if len(keys) > 0 && bytes.Equal(keys[len(keys)-1], e.Key) {
			continue // the same name as another type
		}
		if o.exact && string(e.Key) != o.prefix {
			continue
		}
		keys = append(keys, e.Key)
	}
	next := uint64(0)
	if len(page.Next) > 0 && !o.exact {
		next = s.srv.cursors.put(cursor{ns: s.ns, after: page.Next})
	}
	w.WriteArray(2)
	w.WriteBulkString(strconv.FormatUint(next, 10))
	w.WriteArray(len(keys))
	for _, k := range keys {
		w.WriteBulk(k)
	}
}

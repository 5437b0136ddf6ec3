package node

import (
	"bytes"
	"cmp"
	"slices"

	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/storage"
)

// listTypes is List: up to limit+1 live entries of each type, merged by
// (key, type), cut after limit entries but never inside one name's.
func (n *Node) listTypes(ns string, opts ListOptions, limit int) (Page, error) {
	var all []Entry
	for _, typ := range []crdt.Type{crdt.TypeRegister, crdt.TypeCounter, crdt.TypeSet} {
		es, err := n.liveEntries(ns, typ, opts, limit+1)
		if err != nil {
			return Page{}, translate(err, ErrStorage)
		}
		all = append(all, es...)
	}
	slices.SortFunc(all, func(a, b Entry) int {
		if c := bytes.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		return cmp.Compare(a.Type, b.Type)
	})
	var page Page
	for i, e := range all {
		if len(page.Entries) >= limit && !bytes.Equal(e.Key, all[i-1].Key) {
			page.Next = all[i-1].Key
			break
		}
		page.Entries = append(page.Entries, e)
	}
	return page, nil
}

// liveEntries returns up to want live entries of one type after
// opts.After with opts.Prefix, reading on past dead ones (reset counters,
// empty sets; storage already skips tombstones).
func (n *Node) liveEntries(ns string, typ crdt.Type, opts ListOptions, want int) ([]Entry, error) {
	var out []Entry
	after := opts.After
	for len(out) < want {
		batch, err := n.db.List(ns, storage.ListOptions{Type: typ, Prefix: opts.Prefix, After: after, Limit: want})
		if err != nil {
			return nil, err
		}
		for _, e := range batch {
			if live(e.State, n.now()) && len(out) < want {
				out = append(out, entryOf(e))
			}
		}
		if len(batch) < want {
			break
		}
		after = batch[len(batch)-1].Key
	}
	return out, nil
}

func entryOf(e storage.Entry) Entry {
	out := Entry{Key: e.Key, Type: e.State.Type()}
	switch s := e.State.(type) {
	case crdt.Register:
		out.Value = valueOf(s)
	case crdt.Counter:
		out.Counter = s.Value()
	case crdt.Set:
		out.Members = s.Members()
	}
	return out
}

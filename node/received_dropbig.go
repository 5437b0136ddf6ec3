//go:build grapevine_drop_big

package node

import "github.com/grapevine-kv/grapevine/crdt"

// dropReceived, in this negative-control build (grapevine_drop_big),
// silently drops every received register value larger than 1 MiB: large
// values never replicate. Never ship it.
func dropReceived(_ string, st crdt.State) bool {
	r, ok := st.(crdt.Register)
	return ok && len(r.Value) > 1<<20
}

//go:build !grapevine_drop_big && !grapevine_default_ns_only && !grapevine_no_backfill

package node

import "github.com/grapevine-kv/grapevine/crdt"

// dropReceived is false: every state a peer sends is applied (once admit
// accepts it). The negative-control builds grapevine_drop_big,
// grapevine_default_ns_only and grapevine_no_backfill (received_*.go)
// replace it, one at a time, so `make chaos-controls` can show the chaos
// checkers catch each loss.
func dropReceived(string, crdt.State) bool { return false }

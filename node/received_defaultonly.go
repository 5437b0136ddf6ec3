//go:build grapevine_default_ns_only

package node

import "github.com/grapevine-kv/grapevine/crdt"

// dropReceived, in this negative-control build (grapevine_default_ns_only),
// silently drops every received state outside the default namespace: only
// that namespace replicates. Never ship it.
func dropReceived(ns string, _ crdt.State) bool { return ns != DefaultNamespace }

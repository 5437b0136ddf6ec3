//go:build !grapevine_txn_first_only

package node

import "github.com/grapevine-kv/grapevine/storage"

// txnApplied returns the ops of a transaction that are applied: all of
// them (only the first in the grapevine_txn_first_only negative control).
func txnApplied(ops []storage.Op) []storage.Op { return ops }

//go:build grapevine_txn_first_only

package node

import "github.com/grapevine-kv/grapevine/storage"

// txnApplied applies only the first op of a transaction in this
// deliberately broken build (tag grapevine_txn_first_only), yet the
// transaction is acknowledged whole: the fault-injection suite
// (internal/chaos) must report a txn violation. Never ship it.
func txnApplied(ops []storage.Op) []storage.Op { return ops[:1] }

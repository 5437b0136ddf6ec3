//go:build !grapevine_ttl_ignored

package crdt

// honoursExpiry reports whether expired registers read as absent; false
// only in the grapevine_ttl_ignored negative control.
func honoursExpiry() bool { return true }

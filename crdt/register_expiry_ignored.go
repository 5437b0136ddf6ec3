//go:build grapevine_ttl_ignored

package crdt

// honoursExpiry is false in this deliberately broken build (tag
// grapevine_ttl_ignored): values never expire, so the fault-injection
// suite (internal/chaos) must report a ttl violation. Never ship it.
func honoursExpiry() bool { return false }

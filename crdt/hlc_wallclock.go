//go:build grapevine_wallclock_lww

package crdt

// nextStamp is a deliberately broken clock step, built only with the
// grapevine_wallclock_lww tag: every write is stamped with the plain wall
// clock, ignoring what the clock issued or observed before (wall-clock-only
// last-writer-wins). Under clock skew a later write then loses to an earlier
// one, which the fault-injection suite (internal/chaos) must report. The
// high-water mark still advances, so only the stamps are wrong. Never ship it.
func nextStamp(last, wall Timestamp) (mark, stamp Timestamp) {
	return max(last, wall), wall
}

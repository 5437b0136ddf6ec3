//go:build !grapevine_wallclock_lww

package crdt

// nextStamp is the clock step of Clock.Now: the hybrid logical clock.
func nextStamp(last, wall Timestamp) (mark, stamp Timestamp) { return hlcNext(last, wall) }

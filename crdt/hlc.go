package crdt

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
)

// Timestamp is a hybrid logical clock reading: the high 48 bits are
// wall-clock milliseconds since the Unix epoch, the low 16 bits a logical
// counter that orders events within one millisecond. Timestamps compare as
// plain integers.
type Timestamp uint64

const (
	logicalBits = 16
	// MaxMillis is the largest wall-clock millisecond a Timestamp can hold
	// (the year 10889).
	MaxMillis = 1<<48 - 1
)

// MaxTimestamp is the greatest Timestamp. A Clock that reaches it (only
// possible through Restore, or Observe with no drift limit) stays there.
const MaxTimestamp = Timestamp(math.MaxUint64)

// NewTimestamp packs wall-clock milliseconds and a logical counter. Millis
// outside [0, MaxMillis] are clamped.
func NewTimestamp(millis int64, logical uint16) Timestamp {
	return Timestamp(uint64(clampMillis(millis))<<logicalBits | uint64(logical))
}

// Millis returns the wall-clock part in milliseconds since the Unix epoch.
func (t Timestamp) Millis() int64 { return int64(t >> logicalBits) }

// Logical returns the logical counter.
func (t Timestamp) Logical() uint16 { return uint16(t) }

// Time returns the wall-clock part as a time.Time in UTC.
func (t Timestamp) Time() time.Time { return time.UnixMilli(t.Millis()).UTC() }

// String formats t as RFC 3339 with milliseconds and the logical counter,
// e.g. "2026-11-23T19:35:00.123Z+4".
func (t Timestamp) String() string {
	return fmt.Sprintf("%s+%d", t.Time().Format("2006-01-02T15:04:05.000Z07:00"), t.Logical())
}

func clampMillis(ms int64) int64 {
	switch {
	case ms < 0:
		return 0
	case ms > MaxMillis:
		return MaxMillis
	}
	return ms
}

// ErrClockDrift is matched (with errors.Is) by a *DriftError.
var ErrClockDrift = errors.New("crdt: remote timestamp too far ahead of local clock")

// DriftError reports a remote timestamp further ahead of the local wall
// clock than the clock's maximum drift allows.
type DriftError struct {
	Remote   Timestamp     // the rejected stamp
	Wall     int64         // local wall clock, milliseconds, clamped to [0, MaxMillis]
	MaxDrift time.Duration // the limit in force
}

// Error says how far ahead the remote stamp is.
func (e *DriftError) Error() string {
	ms := e.Remote.Millis() - e.Wall
	ahead := fmt.Sprintf("%dms", ms)
	if ms < math.MaxInt64/int64(time.Millisecond) && ms > math.MinInt64/int64(time.Millisecond) {
		ahead = (time.Duration(ms) * time.Millisecond).String()
	}
	return fmt.Sprintf("crdt: remote timestamp %s is %s ahead of local clock (max drift %s)", e.Remote, ahead, e.MaxDrift)
}

// Is makes errors.Is(err, ErrClockDrift) true for a *DriftError.
func (e *DriftError) Is(target error) bool { return target == ErrClockDrift }

// Clock is a hybrid logical clock (Kulkarni et al., 2014). Now is strictly
// monotonic; Observe advances the clock past a remote stamp so that every
// later local stamp orders after it. A Clock is safe for concurrent use.
type Clock struct {
	wall     func() time.Time
	maxDrift time.Duration

	mu struct {
		sync.Mutex
		last Timestamp
	}
}

// NewClock returns a clock that reads wall time from wall and rejects remote
// stamps more than maxDrift ahead of it. maxDrift <= 0 means no limit.
func NewClock(wall func() time.Time, maxDrift time.Duration) *Clock {
	return &Clock{wall: wall, maxDrift: maxDrift}
}

// wallMillis reads the wall clock, clamped to what a Timestamp can hold.
func (c *Clock) wallMillis() int64 { return clampMillis(c.wall().UnixMilli()) }

// Now returns a timestamp greater than every timestamp this clock returned
// or observed before. If the logical counter overflows it carries into the
// millisecond part, which stays monotonic. The one exception is
// MaxTimestamp: a clock that has reached it returns it again rather than
// wrap around to zero.
func (c *Clock) Now() Timestamp {
	w := NewTimestamp(c.wallMillis(), 0)
	c.mu.Lock()
	defer c.mu.Unlock()
	var t Timestamp
	c.mu.last, t = nextStamp(c.mu.last, w)
	return t
}

// hlcNext is the hybrid logical clock step: the new high-water mark and the
// stamp to issue, given the old mark and the wall clock. nextStamp
// (hlc_next.go) is it; the grapevine_wallclock_lww build tag replaces
// nextStamp with plain wall-clock stamps, as a negative control for the
// fault-injection suite (internal/chaos).
func hlcNext(last, wall Timestamp) (mark, stamp Timestamp) {
	switch {
	case wall > last:
		return wall, wall
	case last < MaxTimestamp:
		return last + 1, last + 1
	}
	return last, last
}

// Observe merges a remote timestamp into the clock. It returns a *DriftError,
// and leaves the clock unchanged, when remote is more than the maximum drift
// ahead of the local wall clock.
func (c *Clock) Observe(remote Timestamp) error {
	if err := c.Check(remote); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if remote > c.mu.last {
		c.mu.last = remote
	}
	return nil
}

// Check reports, without changing the clock, whether Observe would accept
// remote.
func (c *Clock) Check(remote Timestamp) error {
	if c.maxDrift <= 0 {
		return nil
	}
	wall := c.wallMillis()
	if remote.Millis()-wall > c.maxDrift.Milliseconds() {
		return &DriftError{Remote: remote, Wall: wall, MaxDrift: c.maxDrift}
	}
	return nil
}

// Last returns the greatest timestamp issued or observed: the high-water
// mark to persist so the clock never goes back across a restart.
func (c *Clock) Last() Timestamp {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.last
}

// Restore raises the high-water mark to t, as after a restart. It never
// lowers the clock and applies no drift check.
func (c *Clock) Restore(t Timestamp) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t > c.mu.last {
		c.mu.last = t
	}
}

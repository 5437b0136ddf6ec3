package crdt_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/crdt"
)

func TestTimestampPacking(t *testing.T) {
	tests := []struct {
		name        string
		millis      int64
		logical     uint16
		raw         uint64
		wantMillis  int64
		wantLogical uint16
	}{
		{"zero", 0, 0, 0, 0, 0},
		{"logical only", 0, 7, 7, 0, 7},
		{"one millisecond", 1, 0, 1 << 16, 1, 0},
		{"both", 1000, 0xFFFF, 1000<<16 | 0xFFFF, 1000, 0xFFFF},
		{"max millis", crdt.MaxMillis, 3, crdt.MaxMillis<<16 | 3, crdt.MaxMillis, 3},
		{"negative millis clamp to zero", -1, 5, 5, 0, 5},
		{"min int64 clamps to zero", math.MinInt64, 0, 0, 0, 0},
		{"millis past the max clamp", crdt.MaxMillis + 1, 9, crdt.MaxMillis<<16 | 9, crdt.MaxMillis, 9},
		{"max int64 clamps", math.MaxInt64, 0xFFFF, math.MaxUint64, crdt.MaxMillis, 0xFFFF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := crdt.NewTimestamp(tt.millis, tt.logical)
			if uint64(got) != tt.raw {
				t.Errorf("NewTimestamp(%d, %d) = %#x, want %#x", tt.millis, tt.logical, uint64(got), tt.raw)
			}
			if got.Millis() != tt.wantMillis || got.Logical() != tt.wantLogical {
				t.Errorf("Millis, Logical = %d, %d, want %d, %d", got.Millis(), got.Logical(), tt.wantMillis, tt.wantLogical)
			}
		})
	}
	if crdt.MaxTimestamp != crdt.NewTimestamp(crdt.MaxMillis, math.MaxUint16) {
		t.Errorf("MaxTimestamp = %#x is not the largest packable stamp", uint64(crdt.MaxTimestamp))
	}
}

func TestTimestampOrder(t *testing.T) {
	// Stamps compare as integers: wall time first, then the logical counter.
	ordered := []crdt.Timestamp{ts(0, 0), ts(0, 1), ts(0, 0xFFFF), ts(1, 0), ts(1, 1), ts(1000, 0), ts(crdt.MaxMillis, 0), crdt.MaxTimestamp}
	for i := 1; i < len(ordered); i++ {
		if !(ordered[i-1] < ordered[i]) {
			t.Errorf("%v (%#x) not < %v (%#x)", ordered[i-1], uint64(ordered[i-1]), ordered[i], uint64(ordered[i]))
		}
	}
}

func TestTimestampString(t *testing.T) {
	at := time.Date(2026, 11, 23, 19, 35, 0, 123_000_000, time.UTC)
	tests := []struct {
		ts   crdt.Timestamp
		want string
	}{
		{ts(0, 0), "1970-01-01T00:00:00.000Z+0"},
		{ts(at.UnixMilli(), 4), "2026-11-23T19:35:00.123Z+4"},
		{ts(at.UnixMilli()+1, 65535), "2026-11-23T19:35:00.124Z+65535"},
		{crdt.MaxTimestamp, "10889-08-02T05:31:50.655Z+65535"},
	}
	for _, tt := range tests {
		if got := tt.ts.String(); got != tt.want {
			t.Errorf("String(%#x) = %q, want %q", uint64(tt.ts), got, tt.want)
		}
	}
	if got := ts(at.UnixMilli(), 9).Time(); !got.Equal(at) || got.Location() != time.UTC {
		t.Errorf("Time() = %v, want %v in UTC", got, at)
	}
}

// clockOp is one step of a clock script; the scripts are shared by the table
// tests, the property test and FuzzClockObserve.
type clockOp byte

const (
	opWall        clockOp = iota // set the wall clock to int64(arg) ms
	opWallStep                   // move the wall clock by int16(arg) ms
	opNow                        // Now()
	opObserve                    // Observe(Timestamp(arg))
	opObserveNear                // Observe(a stamp int32(arg>>16) ms from the wall, logical uint16(arg))
	opRestore                    // Restore(Timestamp(arg))
	numClockOps
)

type clockStep struct {
	op  clockOp
	arg uint64
}

func (s clockStep) String() string {
	switch s.op {
	case opWall:
		return fmt.Sprintf("wall=%d", int64(s.arg))
	case opWallStep:
		return fmt.Sprintf("wall+=%d", int16(s.arg))
	case opNow:
		return "Now"
	case opObserve:
		return fmt.Sprintf("Observe(%#x)", s.arg)
	case opObserveNear:
		return fmt.Sprintf("Observe(wall%+dms, %d)", int32(s.arg>>16), uint16(s.arg))
	case opRestore:
		return fmt.Sprintf("Restore(%#x)", s.arg)
	}
	return fmt.Sprintf("op(%d)", s.op)
}

// encodeClockScript turns steps into FuzzClockObserve input: 9 bytes a step.
func encodeClockScript(steps []clockStep) []byte {
	var b []byte
	for _, s := range steps {
		b = append(b, byte(s.op))
		b = binary.BigEndian.AppendUint64(b, s.arg)
	}
	return b
}

// decodeClockScript is the inverse of encodeClockScript for any bytes: the
// op byte is taken modulo numClockOps and a trailing partial step dropped.
func decodeClockScript(b []byte, maxSteps int) []clockStep {
	var steps []clockStep
	for len(b) >= 9 && len(steps) < maxSteps {
		steps = append(steps, clockStep{op: clockOp(b[0] % byte(numClockOps)), arg: binary.BigEndian.Uint64(b[1:9])})
		b = b[9:]
	}
	return steps
}

func clampMillis(ms int64) int64 { return min(max(ms, 0), crdt.MaxMillis) }

// clockHarness drives a Clock on a fake wall and checks every call against
// an exact model of the hybrid logical clock: Now returns max(wall, last+1)
// (saturating at MaxTimestamp), Observe accepts a stamp iff it is at most
// maxDrift ahead of the wall and then raises the clock to it, rejected
// stamps and Check change nothing, Restore only raises.
type clockHarness struct {
	wall     *fakeWall
	clock    *crdt.Clock
	maxDrift time.Duration
	accepted crdt.Timestamp // greatest stamp taken by Observe or Restore
}

func newClockHarness(startWall int64, maxDrift time.Duration) *clockHarness {
	w := newFakeWall(startWall)
	return &clockHarness{wall: w, clock: crdt.NewClock(w.now, maxDrift), maxDrift: maxDrift}
}

// step runs s and returns the stamp from Now, Last() afterwards and the
// error from Observe.
func (h *clockHarness) step(t fatalfer, s clockStep) (now, last crdt.Timestamp, err error) {
	prev := h.clock.Last()
	switch s.op {
	case opWall:
		h.wall.set(int64(s.arg))
	case opWallStep:
		ms := h.wall.millis()
		d := int64(int16(s.arg))
		if (d > 0 && ms > math.MaxInt64-d) || (d < 0 && ms < math.MinInt64-d) {
			break // keep the fake wall itself from wrapping
		}
		h.wall.set(ms + d)
	case opNow:
		now = h.clock.Now()
		want := prev
		if want < crdt.MaxTimestamp {
			want++
		}
		want = max(want, ts(clampMillis(h.wall.millis()), 0))
		if now != want {
			t.Fatalf("%v: Now() = %v (%#x), want %v (%#x); last was %#x, wall %d", s, now, uint64(now), want, uint64(want), uint64(prev), h.wall.millis())
		}
		if now <= prev && prev != crdt.MaxTimestamp {
			t.Fatalf("%v: Now() = %#x not after the previous high-water mark %#x", s, uint64(now), uint64(prev))
		}
		if now <= h.accepted && h.accepted != crdt.MaxTimestamp {
			t.Fatalf("%v: Now() = %#x not after accepted remote stamp %#x", s, uint64(now), uint64(h.accepted))
		}
	case opObserve, opObserveNear:
		r := crdt.Timestamp(s.arg)
		if s.op == opObserveNear {
			r = ts(h.wall.millis()+int64(int32(s.arg>>16)), uint16(s.arg))
		}
		err = h.observe(t, s, prev, r)
	case opRestore:
		r := crdt.Timestamp(s.arg)
		h.clock.Restore(r)
		h.accepted = max(h.accepted, r)
		if got, want := h.clock.Last(), max(prev, r); got != want {
			t.Fatalf("%v: Last() = %#x after Restore, want %#x", s, uint64(got), uint64(want))
		}
	default:
		t.Fatalf("unknown op %v", s)
	}
	last = h.clock.Last()
	if last < prev {
		t.Fatalf("%v: Last() went back from %#x to %#x", s, uint64(prev), uint64(last))
	}
	return now, last, err
}

func (h *clockHarness) observe(t fatalfer, s clockStep, prev, r crdt.Timestamp) error {
	wall := clampMillis(h.wall.millis())
	reject := h.maxDrift > 0 && r.Millis()-wall > h.maxDrift.Milliseconds()
	checkErr := h.clock.Check(r)
	if got := h.clock.Last(); got != prev {
		t.Fatalf("%v: Check changed Last() from %#x to %#x", s, uint64(prev), uint64(got))
	}
	err := h.clock.Observe(r)
	if (checkErr != nil) != (err != nil) {
		t.Fatalf("%v: Check(%#x) = %v but Observe = %v", s, uint64(r), checkErr, err)
	}
	if !reject {
		if err != nil {
			t.Fatalf("%v: Observe(%#x) with wall %d, max drift %v: unexpected error %v", s, uint64(r), wall, h.maxDrift, err)
		}
		h.accepted = max(h.accepted, r)
		if got, want := h.clock.Last(), max(prev, r); got != want {
			t.Fatalf("%v: Last() = %#x after Observe(%#x), want %#x", s, uint64(got), uint64(r), uint64(want))
		}
		return nil
	}
	if err == nil {
		t.Fatalf("%v: Observe(%#x) with wall %d, max drift %v accepted a stamp %dms ahead", s, uint64(r), wall, h.maxDrift, r.Millis()-wall)
	}
	if !errors.Is(err, crdt.ErrClockDrift) {
		t.Fatalf("%v: Observe error %v does not match ErrClockDrift", s, err)
	}
	var de *crdt.DriftError
	if !errors.As(err, &de) {
		t.Fatalf("%v: Observe error %T is not a *DriftError", s, err)
	}
	if de.Remote != r || de.Wall != wall || de.MaxDrift != h.maxDrift {
		t.Fatalf("%v: DriftError{%#x, %d, %v}, want {%#x, %d, %v}", s, uint64(de.Remote), de.Wall, de.MaxDrift, uint64(r), wall, h.maxDrift)
	}
	if got := h.clock.Last(); got != prev {
		t.Fatalf("%v: rejected Observe changed Last() from %#x to %#x", s, uint64(prev), uint64(got))
	}
	return err
}

// A scripted step with its exact expectation: for opNow the stamp returned,
// for opObserve and opRestore the Last() afterwards (and for opObserve
// whether the stamp is rejected).
type scriptedStep struct {
	clockStep
	want    crdt.Timestamp
	wantErr bool
}

func wallTo(ms int64) scriptedStep { return scriptedStep{clockStep: clockStep{opWall, uint64(ms)}} }
func now(want crdt.Timestamp) scriptedStep {
	return scriptedStep{clockStep: clockStep{opNow, 0}, want: want}
}
func observe(r, wantLast crdt.Timestamp) scriptedStep {
	return scriptedStep{clockStep: clockStep{opObserve, uint64(r)}, want: wantLast}
}
func observeRejected(r, wantLast crdt.Timestamp) scriptedStep {
	return scriptedStep{clockStep: clockStep{opObserve, uint64(r)}, want: wantLast, wantErr: true}
}
func restore(r, wantLast crdt.Timestamp) scriptedStep {
	return scriptedStep{clockStep: clockStep{opRestore, uint64(r)}, want: wantLast}
}

type clockScript struct {
	name      string
	startWall int64
	maxDrift  time.Duration
	steps     []scriptedStep
}

const minute = time.Minute

var clockScripts = []clockScript{
	{"wall advances", 1000, minute, []scriptedStep{
		now(ts(1000, 0)), wallTo(1001), now(ts(1001, 0)), wallTo(5000), now(ts(5000, 0)),
	}},
	{"wall stalls", 1000, minute, []scriptedStep{
		now(ts(1000, 0)), now(ts(1000, 1)), now(ts(1000, 2)),
	}},
	{"wall goes backwards", 1000, minute, []scriptedStep{
		now(ts(1000, 0)), wallTo(900), now(ts(1000, 1)), wallTo(0), now(ts(1000, 2)),
		wallTo(1000), now(ts(1000, 3)), wallTo(1001), now(ts(1001, 0)),
	}},
	// A fresh clock's high-water mark is 0, so its first stamp is 0+1.
	{"wall before the epoch", -5000, minute, []scriptedStep{
		now(ts(0, 1)), now(ts(0, 2)), wallTo(math.MinInt64), now(ts(0, 3)),
	}},
	{"wall past the last representable millisecond", crdt.MaxMillis + 7, minute, []scriptedStep{
		now(ts(crdt.MaxMillis, 0)), wallTo(math.MaxInt64), now(ts(crdt.MaxMillis, 1)),
	}},
	{"observe a stamp ahead", 1000, minute, []scriptedStep{
		observe(ts(31000, 5), ts(31000, 5)), now(ts(31000, 6)),
		wallTo(31000), now(ts(31000, 7)), wallTo(40000), now(ts(40000, 0)),
	}},
	{"observe a stamp behind", 5000, minute, []scriptedStep{
		now(ts(5000, 0)), observe(ts(4000, 9), ts(5000, 0)), now(ts(5000, 1)),
	}},
	{"observe the last stamp issued", 5000, minute, []scriptedStep{
		now(ts(5000, 0)), now(ts(5000, 1)), observe(ts(5000, 1), ts(5000, 1)), now(ts(5000, 2)),
	}},
	{"observe exactly at the drift limit", 1000, minute, []scriptedStep{
		observe(ts(61000, 0xFFFF), ts(61000, 0xFFFF)), now(ts(61001, 0)),
	}},
	{"observe past the drift limit", 1000, minute, []scriptedStep{
		now(ts(1000, 0)), observeRejected(ts(61001, 0), ts(1000, 0)), now(ts(1000, 1)),
		observeRejected(crdt.MaxTimestamp, ts(1000, 1)), now(ts(1000, 2)),
	}},
	{"rejected until the wall catches up", 1000, minute, []scriptedStep{
		observeRejected(ts(61001, 0), 0), wallTo(1001), observe(ts(61001, 0), ts(61001, 0)), now(ts(61001, 1)),
	}},
	{"drift is measured from a clamped wall", -60000, minute, []scriptedStep{
		observe(ts(60000, 0), ts(60000, 0)), observeRejected(ts(60001, 0), ts(60000, 0)),
	}},
	{"sub-millisecond drift is a zero limit", 1000, 500 * time.Microsecond, []scriptedStep{
		observe(ts(1000, 7), ts(1000, 7)), observeRejected(ts(1001, 0), ts(1000, 7)), now(ts(1000, 8)),
	}},
	{"zero drift means no limit", 1000, 0, []scriptedStep{
		observe(ts(crdt.MaxMillis, 0), ts(crdt.MaxMillis, 0)), now(ts(crdt.MaxMillis, 1)),
	}},
	{"negative drift means no limit", 1000, -time.Second, []scriptedStep{
		observe(ts(1_000_000_000, 3), ts(1_000_000_000, 3)), now(ts(1_000_000_000, 4)),
	}},
	{"restore never lowers", 1000, minute, []scriptedStep{
		now(ts(1000, 0)), restore(ts(500, 0), ts(1000, 0)), restore(ts(2000, 3), ts(2000, 3)),
		now(ts(2000, 4)), restore(ts(1999, 0), ts(2000, 4)), restore(0, ts(2000, 4)), now(ts(2000, 5)),
	}},
	{"restore applies no drift check", 1000, minute, []scriptedStep{
		restore(ts(1_000_000_000, 0), ts(1_000_000_000, 0)), now(ts(1_000_000_000, 1)),
	}},
	{"logical overflow carries into the millisecond", 1000, minute, []scriptedStep{
		restore(ts(1000, 0xFFFE), ts(1000, 0xFFFE)), now(ts(1000, 0xFFFF)), now(ts(1001, 0)), now(ts(1001, 1)),
		wallTo(1001), now(ts(1001, 2)), wallTo(1002), now(ts(1002, 0)),
	}},
	{"observed full logical counter carries", 1000, minute, []scriptedStep{
		observe(ts(1000, 0xFFFF), ts(1000, 0xFFFF)), now(ts(1001, 0)),
	}},
	{"saturates at MaxTimestamp instead of wrapping", 1000, 0, []scriptedStep{
		restore(ts(crdt.MaxMillis, 0xFFFE), ts(crdt.MaxMillis, 0xFFFE)), now(crdt.MaxTimestamp),
		now(crdt.MaxTimestamp), wallTo(2000), now(crdt.MaxTimestamp),
		observe(ts(5, 5), crdt.MaxTimestamp), restore(0, crdt.MaxTimestamp),
	}},
}

func TestClockScripts(t *testing.T) {
	for _, sc := range clockScripts {
		t.Run(sc.name, func(t *testing.T) {
			h := newClockHarness(sc.startWall, sc.maxDrift)
			for i, s := range sc.steps {
				got, last, err := h.step(t, s.clockStep)
				switch s.op {
				case opNow:
					if got != s.want {
						t.Fatalf("step %d %v = %v, want %v", i, s.clockStep, got, s.want)
					}
				case opObserve, opRestore:
					if (err != nil) != s.wantErr {
						t.Fatalf("step %d %v: error %v, want error %t", i, s.clockStep, err, s.wantErr)
					}
					if last != s.want {
						t.Fatalf("step %d %v: Last() = %v, want %v", i, s.clockStep, last, s.want)
					}
				}
			}
		})
	}
}

func TestDriftError(t *testing.T) {
	w := newFakeWall(1000)
	c := crdt.NewClock(w.now, time.Minute)
	before := c.Now()
	remote := ts(1000+90_000, 2)

	err := c.Check(remote)
	if c.Last() != before {
		t.Fatalf("Check changed the clock")
	}
	for _, e := range []error{err, c.Observe(remote), fmt.Errorf("gossip: delta: %w", c.Observe(remote))} {
		if !errors.Is(e, crdt.ErrClockDrift) {
			t.Errorf("errors.Is(%v, ErrClockDrift) = false", e)
		}
		var de *crdt.DriftError
		if !errors.As(e, &de) {
			t.Fatalf("errors.As(%v, *DriftError) = false", e)
		}
		if de.Remote != remote || de.Wall != 1000 || de.MaxDrift != time.Minute {
			t.Errorf("DriftError = %+v", de)
		}
		if !strings.Contains(e.Error(), "1m30s ahead") || !strings.Contains(e.Error(), "max drift 1m0s") {
			t.Errorf("message %q does not say how far ahead", e.Error())
		}
	}
	if c.Last() != before {
		t.Fatalf("rejected Observe changed the clock from %v to %v", before, c.Last())
	}
	if errors.Is(err, crdt.ErrMalformed) || errors.Is(crdt.ErrMalformed, crdt.ErrClockDrift) {
		t.Errorf("DriftError matches unrelated sentinels")
	}

	// A stamp centuries ahead must not overflow time.Duration in the message.
	huge := &crdt.DriftError{Remote: crdt.MaxTimestamp, Wall: 0, MaxDrift: time.Minute}
	if msg := huge.Error(); !strings.Contains(msg, fmt.Sprintf("%dms ahead", int64(crdt.MaxMillis))) {
		t.Errorf("huge drift message %q", msg)
	}
}

func TestClockConcurrentNowUnique(t *testing.T) {
	w := newFakeWall(1000) // stalled: every stamp comes from the logical counter
	c := crdt.NewClock(w.now, time.Minute)
	const goroutines, each = 4, 2000
	out := make([][]crdt.Timestamp, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for range each {
				out[g] = append(out[g], c.Now())
				if err := c.Observe(ts(999, 5)); err != nil { // behind: changes nothing
					t.Errorf("Observe: %v", err)
				}
			}
		})
	}
	wg.Wait()
	seen := make(map[crdt.Timestamp]bool, goroutines*each)
	for g, stamps := range out {
		for i, s := range stamps {
			if seen[s] {
				t.Fatalf("stamp %v issued twice", s)
			}
			seen[s] = true
			if i > 0 && s <= stamps[i-1] {
				t.Fatalf("goroutine %d: %v after %v", g, s, stamps[i-1])
			}
		}
	}
	if got, want := c.Last(), ts(1000, 0)+goroutines*each-1; got != want {
		t.Errorf("Last() = %v, want %v", got, want)
	}
}

package reconcile

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/crdt"
	"github.com/grapevine-kv/grapevine/internal/wire"
)

const benchN = 1_000_000

var bench struct {
	once      sync.Once
	base      []Item // sorted by hash
	fullState int64  // bytes of a full-state transfer of base
}

// benchBase builds n register items with 15-byte keys, and the size of
// sending all of them as gossip deltas with 100-byte values: the baseline
// a reconciliation is compared with.
func benchBase() ([]Item, int64) {
	bench.once.Do(func() {
		rng := rand.New(rand.NewPCG(1, 2))
		items := make([]Item, benchN)
		origin := crdt.ReplicaID("12D3KooWGRUVh8YtSB3MB7XbyUPoWKPb6FzwHhtDV1Yuw6jCVQB2") // a libp2p peer ID
		value := make([]byte, 100)
		for i := range items {
			key := fmt.Appendf(nil, "user:%010d", i)
			items[i] = newItem(placeUniform, crdt.TypeRegister, key, rng.Uint64())
			state := crdt.Encode(crdt.Register{Time: crdt.NewTimestamp(1_764_000_000_000+int64(i), 0), Origin: origin, Value: value})
			bench.fullState += int64(wire.DeltaSize(key, state))
		}
		bench.base = newMemIndex(items, false).items
	})
	return bench.base, bench.fullState
}

// BenchmarkReconcile runs whole sessions between two replicas of 1,000,000
// items that differ in d items (a third missing on each side, a third
// changed), with tree-backed indexes, and reports the bytes each way, the
// round trips and the CPU time per round trip (both sides, one goroutine),
// beside the size of a full-state transfer measured in the same run.
func BenchmarkReconcile(b *testing.B) {
	base, full := benchBase()
	for _, d := range []int{0, 1, 100, 10_000} {
		b.Run(fmt.Sprintf("n=%d/d=%d", benchN, d), func(b *testing.B) {
			a, r := synthPair(base, d, rand.New(rand.NewPCG(uint64(d), 3)))
			b.ReportAllocs()
			var x benchRun
			var cpu time.Duration
			iters := 0
			for b.Loop() {
				x = runBench(b, a, r)
				cpu += x.cpu
				iters++
			}
			x.cpu = cpu / time.Duration(iters) // mean over the iterations
			if got := x.sends; got < d || got > 2*d {
				b.Fatalf("d=%d: %d items to send", d, got)
			}
			sync := float64(x.ab + x.ba)
			b.ReportMetric(float64(x.ab), "B_sent")
			b.ReportMetric(float64(x.ba), "B_recv")
			b.ReportMetric(float64(x.roundTrips), "round_trips")
			b.ReportMetric(float64(x.cpu.Nanoseconds())/1e3/float64(x.roundTrips), "µs_cpu/round")
			b.ReportMetric(float64(full), "B_full_state")
			b.ReportMetric(float64(full)/sync, "full/sync")
			b.Logf("n=%d d=%d: %d round trips, %d B sent + %d B received = %s of a full-state transfer (%d B); %v CPU per session; %d items to send",
				benchN, d, x.roundTrips, x.ab, x.ba, ratio(sync, float64(full)), full, x.cpu, x.sends)
		})
	}
}

func ratio(part, whole float64) string {
	p := 100 * part / whole
	if p < 0.01 {
		return fmt.Sprintf("%.5f%%", p)
	}
	return fmt.Sprintf("%.3f%%", p)
}

type benchRun struct {
	ab, ba, roundTrips, sends int
	cpu                       time.Duration
}

// runBench runs a session by calling Start and Handle directly (no extra
// decoding) and times the calls.
func runBench(b *testing.B, a, r Index) benchRun {
	var x benchRun
	ini, _ := NewInitiator(a, DefaultConfig())
	res, _ := NewResponder(r, DefaultConfig())
	t0 := time.Now()
	msg, err := ini.Start()
	x.cpu += time.Since(t0)
	if err != nil {
		b.Fatal(err)
	}
	sides := [2]*Session{res, ini}
	msgs := 0
	for turn := 0; msg != nil; turn = 1 - turn {
		msgs++
		if turn == 0 {
			x.ab += len(msg)
		} else {
			x.ba += len(msg)
		}
		t0 := time.Now()
		msg, _, err = sides[turn].Handle(msg)
		x.cpu += time.Since(t0)
		if err != nil {
			b.Fatal(err)
		}
	}
	x.roundTrips = (msgs + 1) / 2
	oa, or := ini.TakeOutcome(), res.TakeOutcome()
	x.sends = len(oa.Send) + len(or.Send)
	if len(oa.Stream)+len(or.Stream) > 0 {
		b.Fatalf("streams %v %v: unexpected with so few differences", oa.Stream, or.Stream)
	}
	return x
}

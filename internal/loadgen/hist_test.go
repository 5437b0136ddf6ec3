package loadgen_test

import (
	"slices"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/internal/loadgen"
	"pgregory.net/rapid"
)

// TestHistogramQuantiles: every quantile is within 1/64 below the exact
// one (the value of rank ⌈q·n⌉), never above it, and Merge is the same
// as recording everything in one histogram.
func TestHistogramQuantiles(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		values := rapid.SliceOfN(rapid.OneOf(
			rapid.Int64Range(0, 200),
			rapid.Int64Range(0, int64(time.Second)),
			rapid.Int64Range(0, 1<<62),
		), 1, 300).Draw(t, "values")
		split := rapid.IntRange(0, len(values)).Draw(t, "split")
		var whole, a, b loadgen.Histogram
		for i, v := range values {
			whole.Record(time.Duration(v))
			if i < split {
				a.Record(time.Duration(v))
			} else {
				b.Record(time.Duration(v))
			}
		}
		a.Merge(&b)
		slices.Sort(values)
		if whole.Count() != uint64(len(values)) || whole.Max() != time.Duration(values[len(values)-1]) {
			t.Fatalf("count %d max %s, want %d and %s", whole.Count(), whole.Max(), len(values), time.Duration(values[len(values)-1]))
		}
		for _, q := range []float64{0, 0.01, 0.5, 0.9, 0.99, 0.999, 1} {
			rank := max(int(float64(len(values))*q+0.999999999), 1)
			exact := values[min(rank, len(values))-1]
			got := int64(whole.Quantile(q))
			if got > exact || float64(exact-got) > float64(exact)/64 {
				t.Fatalf("q%g = %d, exact %d: off by more than 1/64", q, got, exact)
			}
			if m := a.Quantile(q); m != whole.Quantile(q) {
				t.Fatalf("merged q%g = %d, recorded together %d", q, m, got)
			}
		}
	})
}

func TestHistogramEmptyAndNegative(t *testing.T) {
	var h loadgen.Histogram
	if h.Quantile(0.5) != 0 || h.Max() != 0 || h.Mean() != 0 {
		t.Fatal("an empty histogram reports a value")
	}
	h.Record(-time.Second)
	if h.Count() != 1 || h.Quantile(1) != 0 {
		t.Fatalf("a negative duration: count %d, q1 %s; want 1 and 0", h.Count(), h.Quantile(1))
	}
}

package loadgen

import (
	"math"
	"math/bits"
	"time"
)

// subBits is the log2 of the number of linear sub-buckets per power of
// two: 64 sub-buckets bound the relative error of a recorded value to
// 1/64 (about 1.6%), as an HDR histogram with two significant digits.
const subBits = 6

const (
	subCount   = 1 << subBits
	numBuckets = (64 - subBits + 1) * subCount
)

// Histogram records durations in log-linear buckets: exact below 64 ns,
// then 64 linear buckets per power of two. The zero value is empty and
// ready. It is not safe for concurrent use: give each worker its own and
// Merge them.
type Histogram struct {
	counts [numBuckets]uint64
	n      uint64
	max    time.Duration
	sum    time.Duration
}

// bucketOf returns the bucket of a value v ≥ 0 in nanoseconds.
func bucketOf(v uint64) int {
	if v < subCount {
		return int(v)
	}
	shift := bits.Len64(v) - subBits - 1 // v>>shift is in [64, 128)
	return (shift+1)*subCount + int(v>>shift) - subCount
}

// lowest returns the smallest value of bucket i, in nanoseconds.
func lowest(i int) uint64 {
	if i < subCount {
		return uint64(i)
	}
	shift := i/subCount - 1
	return uint64(i%subCount+subCount) << shift
}

// Record adds one duration; a negative one counts as 0.
func (h *Histogram) Record(d time.Duration) {
	d = max(d, 0)
	h.counts[bucketOf(uint64(d))]++
	h.n++
	h.sum += d
	h.max = max(h.max, d)
}

// Merge adds every value recorded in o to h.
func (h *Histogram) Merge(o *Histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.max = max(h.max, o.max)
}

// Count is the number of recorded values.
func (h *Histogram) Count() uint64 { return h.n }

// Max is the largest recorded value (exact), 0 if none.
func (h *Histogram) Max() time.Duration { return h.max }

// Mean is the mean of the recorded values (exact), 0 if none.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return h.sum / time.Duration(h.n)
}

// Quantile returns the q-quantile (0 ≤ q ≤ 1) of the recorded values: the
// lowest value of the bucket holding the ⌈q·n⌉-th smallest value, so within
// 1.6% below the exact one, and never above Max. 0 if none.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := min(max(uint64(math.Ceil(q*float64(h.n))), 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		if seen += c; seen >= rank {
			return min(time.Duration(lowest(i)), h.max)
		}
	}
	return h.max
}

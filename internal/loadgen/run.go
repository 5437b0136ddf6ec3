package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Op is what a run's workers do.
type Op int

// The operations of a run.
const (
	Put   Op = iota // every operation writes a new key
	Get             // every operation reads a preloaded key
	Mixed           // reads (ReadFraction) and writes of new keys
)

// String is the operation's name on the command line.
func (o Op) String() string {
	switch o {
	case Put:
		return "put"
	case Get:
		return "get"
	case Mixed:
		return "mixed"
	}
	return fmt.Sprintf("Op(%d)", int(o))
}

// ParseOp returns the Op named s (put, get or mixed).
func ParseOp(s string) (Op, error) {
	for _, o := range []Op{Put, Get, Mixed} {
		if o.String() == s {
			return o, nil
		}
	}
	return 0, fmt.Errorf("loadgen: unknown operation %q: want put, get or mixed", s)
}

// Config configures a Run. Start from DefaultConfig.
type Config struct {
	// Op is what the workers do. Default Put.
	Op Op
	// Clients is the number of concurrent workers, each with one request
	// in flight. Default 64: the published comparisons' client count.
	Clients int
	// Duration is how long workers start new requests; the ones in flight
	// then finish and count. Default 10 s. Ignored when Requests is set.
	Duration time.Duration
	// Requests, if not 0, ends the run after that many operations in all
	// instead of after Duration (Go benchmarks pass b.N). Default 0.
	Requests uint64
	// ValueSize is the size in bytes of every value written. Default 100.
	ValueSize int
	// Keys is the size of the key space: the run writes Key(First) to
	// Key(First+Keys-1), each once, and only after Keys puts writes a key
	// again. Default 1,000,000.
	Keys uint64
	// First is the index of the run's first key, so that runs against one
	// peer can write keys of their own. Default 0.
	First uint64
	// Preload is how many keys a Get or Mixed run writes before it starts
	// the clock; its reads pick among them. Default 10,000 (at most Keys).
	// A Put run preloads nothing.
	Preload uint64
	// ReadFraction is the share of reads in a Mixed run. Default 0.5.
	ReadFraction float64
	// Targets are the peers driven: worker w uses Targets[w%len(Targets)].
	// Required (by Run; Validate does not check it).
	Targets []Target
	// OnPut, if set, is called by a worker after each acknowledged put,
	// timed ones only, with the worker's number, the key's index and the
	// time of the acknowledgement. It must be safe for concurrent use and
	// quick: it is on the measured path. Default nil.
	OnPut func(worker int, key uint64, ack time.Time)
	// Progress, if set, is called every ProgressEvery from a goroutine of
	// the run while it is timed. Default nil.
	Progress func(Progress)
	// ProgressEvery is the interval of Progress calls. Default 250 ms.
	ProgressEvery time.Duration
}

// DefaultConfig returns the defaults documented on Config (without
// Targets).
func DefaultConfig() Config {
	return Config{Op: Put, Clients: 64, Duration: 10 * time.Second, ValueSize: 100,
		Keys: 1_000_000, Preload: 10_000, ReadFraction: 0.5, ProgressEvery: 250 * time.Millisecond}
}

// Validate reports every problem with c but its Targets (which Run
// checks), or nil.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Op < Put || c.Op > Mixed {
		bad("unknown operation %d", c.Op)
	}
	if c.Clients < 1 {
		bad("clients must be at least 1, got %d", c.Clients)
	}
	if c.Requests == 0 && c.Duration <= 0 {
		bad("duration must be positive, got %s", c.Duration)
	}
	if c.ValueSize < 0 {
		bad("value size must not be negative, got %d", c.ValueSize)
	}
	if c.Keys < 1 {
		bad("keys must be at least 1, got %d", c.Keys)
	}
	if c.Op != Put && c.Preload < 1 {
		bad("a %s run reads preloaded keys: preload must be at least 1", c.Op)
	}
	if c.ReadFraction < 0 || c.ReadFraction > 1 {
		bad("read fraction must be within 0..1, got %g", c.ReadFraction)
	}
	if c.Progress != nil && c.ProgressEvery <= 0 {
		bad("progress interval must be positive, got %s", c.ProgressEvery)
	}
	return errors.Join(errs...)
}

// Progress is a run's state while it is timed.
type Progress struct {
	Elapsed time.Duration // since the clock started
	Ops     uint64        // operations completed
}

// Result is what a run measured.
type Result struct {
	Op      Op
	Clients int
	// Elapsed is from the clock's start until the last worker finished.
	Elapsed time.Duration
	// Puts and Gets count the acknowledged operations; Misses, the gets
	// that found no value; Errors, the operations that failed (FirstError
	// is the first of them).
	Puts, Gets, Misses, Errors uint64
	FirstError                 error
	// Latency holds every successful operation's latency; PutLatency and
	// GetLatency, each kind's.
	Latency, PutLatency, GetLatency Histogram
}

// Ops is the number of successful operations.
func (r *Result) Ops() uint64 { return r.Puts + r.Gets }

// Throughput is successful operations per second.
func (r *Result) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Ops()) / r.Elapsed.Seconds()
}

// worker is one worker's tallies, merged into the Result at the end.
type worker struct {
	puts, gets, misses, errors uint64
	firstErr                   error
	put, get                   Histogram
}

// Run drives cfg.Targets with cfg.Clients workers and returns what it
// measured. It blocks until the run is over or ctx is done; then it
// returns the partial result with ctx's error. Requests in flight when the
// duration is up complete and count.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("loadgen: %w", err)
	}
	if len(cfg.Targets) == 0 {
		return nil, errors.New("loadgen: no target to drive")
	}
	value := make([]byte, cfg.ValueSize)
	for i := range value {
		value[i] = 'a' + byte(i%26)
	}
	var next atomic.Uint64 // the next key to write, counted from First
	if cfg.Op != Put {
		if err := preload(ctx, cfg, value); err != nil {
			return nil, err
		}
		next.Store(cfg.Preload)
	}

	var stop atomic.Bool
	var done atomic.Uint64
	var budget atomic.Int64 // operations left to start, with Requests
	budget.Store(int64(cfg.Requests))
	more := func() bool {
		if stop.Load() || ctx.Err() != nil {
			return false
		}
		return cfg.Requests == 0 || budget.Add(-1) >= 0
	}
	workers := make([]worker, cfg.Clients)
	start := time.Now()
	if cfg.Requests == 0 {
		t := time.AfterFunc(cfg.Duration, func() { stop.Store(true) })
		defer t.Stop()
	}
	stopProgress := progress(cfg, start, &done)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			me := &workers[w]
			target := cfg.Targets[w%len(cfg.Targets)]
			rng := rand.New(rand.NewPCG(uint64(w), 14)) // seeded: runs repeat
			for more() {
				read := cfg.Op == Get || (cfg.Op == Mixed && rng.Float64() < cfg.ReadFraction)
				var err error
				t0 := time.Now()
				if read {
					var found bool
					found, err = target.Get(ctx, Key(cfg.First+rng.Uint64N(cfg.Preload)))
					if err == nil {
						me.get.Record(time.Since(t0))
						me.gets++
						if !found {
							me.misses++
						}
					}
				} else {
					i := cfg.First + (next.Add(1)-1)%cfg.Keys
					err = target.Put(ctx, Key(i), value)
					if err == nil {
						ack := time.Now()
						me.put.Record(ack.Sub(t0))
						me.puts++
						if cfg.OnPut != nil {
							cfg.OnPut(w, i, ack)
						}
					}
				}
				if err != nil {
					if ctx.Err() != nil {
						return // cancelled: not the target's failure
					}
					me.errors++
					if me.firstErr == nil {
						me.firstErr = err
					}
					continue
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	stopProgress()
	r := &Result{Op: cfg.Op, Clients: cfg.Clients, Elapsed: elapsed}
	for i := range workers {
		w := &workers[i]
		r.Puts += w.puts
		r.Gets += w.gets
		r.Misses += w.misses
		r.Errors += w.errors
		if r.FirstError == nil {
			r.FirstError = w.firstErr
		}
		r.PutLatency.Merge(&w.put)
		r.GetLatency.Merge(&w.get)
	}
	r.Latency.Merge(&r.PutLatency)
	r.Latency.Merge(&r.GetLatency)
	return r, ctx.Err()
}

// progress calls cfg.Progress every cfg.ProgressEvery until the returned
// stop is called; stop waits for the goroutine to end.
func progress(cfg Config, start time.Time, done *atomic.Uint64) (stop func()) {
	if cfg.Progress == nil {
		return func() {}
	}
	quit, ended := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(ended)
		tick := time.NewTicker(cfg.ProgressEvery)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
				cfg.Progress(Progress{Elapsed: time.Since(start), Ops: done.Load()})
			}
		}
	}()
	return func() { close(quit); <-ended }
}

// preload writes keys First to First+Preload-1 with cfg.Clients workers,
// untimed; the first failure ends it.
func preload(ctx context.Context, cfg Config, value []byte) error {
	var next atomic.Uint64
	var wg sync.WaitGroup
	errs := make([]error, cfg.Clients)
	for w := range cfg.Clients {
		wg.Go(func() {
			target := cfg.Targets[w%len(cfg.Targets)]
			for {
				i := next.Add(1) - 1
				if i >= cfg.Preload || ctx.Err() != nil {
					return
				}
				if err := target.Put(ctx, Key(cfg.First+i), value); err != nil {
					errs[w] = fmt.Errorf("loadgen: preload key %s: %w", Key(cfg.First+i), err)
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return ctx.Err()
}

package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// MemorySample is a daemon's memory at one moment, as its /metrics
// reports it: the resident set of its process, the part of it backed by
// files (Badger's memory-mapped tables: page cache; 0 where the daemon
// does not report it) and the Go heap in use.
type MemorySample struct {
	RSS     uint64 `json:"rss_bytes"`
	RSSFile uint64 `json:"rss_file_bytes"`
	Heap    uint64 `json:"heap_inuse_bytes"`
}

// MemoryReport is a daemon's memory over a run: before the load, the
// highest resident set seen (sampled every MemoryEvery) and the highest
// part of it not backed by files, and after.
type MemoryReport struct {
	Before  MemorySample `json:"before"`
	MaxRSS  uint64       `json:"max_rss_bytes"`
	MaxAnon uint64       `json:"max_rss_anon_bytes"`
	After   MemorySample `json:"after"`
	Samples int          `json:"samples"`
}

// MemoryEvery is how often a run samples the daemon's memory.
const MemoryEvery = time.Second

// String reads like "RSS 41 MiB before, 180 MiB at most, 175 MiB after
// (of it mapped files 20 MiB before, 60 MiB after; the rest 115 MiB at
// most); Go heap in use 30 MiB before, 90 MiB after".
func (m MemoryReport) String() string {
	files := ""
	if m.After.RSSFile > 0 {
		files = fmt.Sprintf(" (of it mapped files %s before, %s after; the rest %s at most)",
			mib(m.Before.RSSFile), mib(m.After.RSSFile), mib(m.MaxAnon))
	}
	return fmt.Sprintf("RSS %s before, %s at most, %s after%s; Go heap in use %s before, %s after (%d samples, one every %s)",
		mib(m.Before.RSS), mib(m.MaxRSS), mib(m.After.RSS), files, mib(m.Before.Heap), mib(m.After.Heap), m.Samples, MemoryEvery)
}

// anon is the resident memory not backed by files.
func (m MemorySample) anon() uint64 { return m.RSS - min(m.RSS, m.RSSFile) }

func mib(b uint64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// memorySampler reads a daemon's memory from its /metrics body.
type memorySampler func(ctx context.Context) ([]byte, error)

// sample reads the daemon's memory once.
func (s memorySampler) sample(ctx context.Context) (MemorySample, error) {
	body, err := s(ctx)
	if err != nil {
		return MemorySample{}, err
	}
	return parseMemory(body)
}

// parseMemory finds process_resident_memory_bytes and
// go_memstats_heap_inuse_bytes (client_golang's process and Go
// collectors), and grapevine_process_resident_file_bytes if present, in a
// text exposition.
func parseMemory(body []byte) (MemorySample, error) {
	var m MemorySample
	found := 0
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := bytes.Cut(sc.Bytes(), []byte{' '})
		if !ok {
			continue
		}
		var dst *uint64
		switch string(name) {
		case "process_resident_memory_bytes":
			dst = &m.RSS
		case "go_memstats_heap_inuse_bytes":
			dst = &m.Heap
		case "grapevine_process_resident_file_bytes":
			dst = &m.RSSFile
		default:
			continue
		}
		f, err := strconv.ParseFloat(string(bytes.TrimSpace(value)), 64)
		if err != nil {
			return MemorySample{}, fmt.Errorf("loadgen: metric %s: %w", name, err)
		}
		*dst = uint64(f)
		if dst != &m.RSSFile {
			found++
		}
	}
	if found < 2 {
		return MemorySample{}, fmt.Errorf("loadgen: the daemon's /metrics has no process_resident_memory_bytes or go_memstats_heap_inuse_bytes")
	}
	return m, sc.Err()
}

// watchMemory samples the daemon's memory now and every MemoryEvery until
// the returned function is called, which samples it once more and returns
// the report.
func (s memorySampler) watch(ctx context.Context) (stop func() (MemoryReport, error), err error) {
	first, err := s.sample(ctx)
	if err != nil {
		return nil, err
	}
	var (
		mu   sync.Mutex
		rep  = MemoryReport{Before: first, MaxRSS: first.RSS, MaxAnon: first.anon(), Samples: 1}
		errs error
	)
	record := func(m MemorySample, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs = err
			return
		}
		rep.MaxRSS = max(rep.MaxRSS, m.RSS)
		rep.MaxAnon = max(rep.MaxAnon, m.anon())
		rep.After = m
		rep.Samples++
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(MemoryEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				record(s.sample(ctx))
			}
		}
	})
	return func() (MemoryReport, error) {
		close(done)
		wg.Wait()
		record(s.sample(ctx))
		mu.Lock()
		defer mu.Unlock()
		return rep, errs
	}, nil
}

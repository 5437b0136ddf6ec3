// Command etcdbench measures etcd's durable puts the way issue 14 compares
// them: the etcd Go client, CLIENTS goroutines over CONNS client
// connections, each putting its own 16-byte keys with 100-byte values for
// a fixed duration. It prints one line:
//
//	etcd puts/s=12400 p50_us=4100 p99_us=9800 ops=62000
//
// It is its own module so that the etcd client (gRPC and friends) stays
// out of grapevine's go.mod; `make bench-compare` builds and runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

func main() {
	endpoints := flag.String("endpoints", "127.0.0.1:2379", "etcd client `URLS`, comma-separated")
	clients := flag.Int("clients", 64, "concurrent writers")
	conns := flag.Int("conns", 8, "client connections the writers share")
	duration := flag.Duration("duration", 5*time.Second, "how long to write")
	valueSize := flag.Int("value-size", 100, "value size in bytes")
	first := flag.Int64("first", 0, "number the keys from `N`, so that runs against one etcd write keys of their own")
	flag.Parse()
	if err := run(strings.Split(*endpoints, ","), *clients, *conns, *duration, *valueSize, *first); err != nil {
		fmt.Fprintln(os.Stderr, "etcdbench:", err)
		os.Exit(1)
	}
}

func run(endpoints []string, clients, conns int, duration time.Duration, valueSize int, first int64) error {
	if clients < 1 || conns < 1 || duration <= 0 || valueSize < 0 {
		return fmt.Errorf("want clients ≥ 1, conns ≥ 1, a positive duration, a value size ≥ 0")
	}
	cls := make([]*clientv3.Client, min(conns, clients))
	for i := range cls {
		c, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second})
		if err != nil {
			return fmt.Errorf("connect to %s: %w", strings.Join(endpoints, ","), err)
		}
		defer c.Close()
		cls[i] = c
	}
	value := strings.Repeat("v", valueSize)
	var stop atomic.Bool
	var failed atomic.Uint64
	var firstErr atomic.Value
	lats := make([][]time.Duration, clients)
	ctx := context.Background()
	start := time.Now()
	time.AfterFunc(duration, func() { stop.Store(true) })
	var wg sync.WaitGroup
	for w := range clients {
		wg.Go(func() {
			kv := cls[w%len(cls)]
			for n := first; !stop.Load(); n++ {
				key := fmt.Sprintf("e%02d%013d", w%100, n) // 16 bytes
				t0 := time.Now()
				if _, err := kv.Put(ctx, key, value); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				lats[w] = append(lats[w], time.Since(t0))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	all := slices.Concat(lats...)
	if len(all) == 0 {
		return fmt.Errorf("no put succeeded; the first error: %v", firstErr.Load())
	}
	slices.Sort(all)
	q := func(p float64) int64 { return all[min(len(all)-1, int(p*float64(len(all))))].Microseconds() }
	fmt.Printf("etcd puts/s=%.0f p50_us=%d p99_us=%d ops=%d errors=%d\n",
		float64(len(all))/elapsed.Seconds(), q(0.5), q(0.99), len(all), failed.Load())
	return nil
}

// Command grapevine-chaos is grapevine's fault-injection suite: it runs
// real `grapevine daemon` processes under partitions, kill -9, pauses, clock
// skew, power loss and bad input, records a history of client operations and checks it
// (see internal/chaos). It prints a Jepsen-style summary ending in
// "RESULT: VALID" or "RESULT: INVALID" and exits 1 unless valid.
//
//	grapevine-chaos --bin bin/grapevine --duration 10m
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/grapevine-kv/grapevine/internal/chaos"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("grapevine-chaos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	short := fs.Bool("short", false, "the short run of `make test`: 70s of quicker rounds (other flags still apply)")
	cfg := chaos.DefaultConfig()
	for _, a := range args {
		if a == "-short" || a == "--short" || a == "-short=true" || a == "--short=true" {
			cfg = chaos.ShortConfig()
		}
	}
	fs.StringVar(&cfg.Bin, "bin", "bin/grapevine", "grapevine binary to run as the daemons")
	fs.StringVar(&cfg.Dir, "dir", "", "working directory for data, logs, history.jsonl and summary.txt (default: a new temporary directory)")
	fs.IntVar(&cfg.Peers, "peers", cfg.Peers, "number of daemons started at the beginning")
	fs.IntVar(&cfg.Joiners, "joiners", cfg.Joiners, "number of new daemons started halfway, bootstrapping from the others")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "how long the workload and the faults run")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed of every random choice; printed in the summary")
	fs.DurationVar(&cfg.Quiesce, "quiesce", cfg.Quiesce, "longest wait for convergence after the final heal")
	fs.StringVar(&cfg.Partition, "partition", cfg.Partition, "partition mechanism: auto (nftables if it works here, else the connection gater), nft or gater")
	fs.DurationVar(&cfg.MaxForwardJump, "max-forward-jump", cfg.MaxForwardJump, "largest forward clock skew (0: half the tombstone grace, also its upper bound)")
	fs.Float64Var(&cfg.SkewProb, "skew-prob", cfg.SkewProb, "chance that a nemesis round also skews a peer's clock")
	fs.DurationVar(&cfg.TombstoneGrace, "tombstone-grace", cfg.TombstoneGrace, "the daemons' --tombstone-grace; a peer is held away longer than it")
	fs.DurationVar(&cfg.PullFirstWait, "pull-first-wait", cfg.PullFirstWait, "the daemons' hidden --test-pull-first-wait (0: their 10m default)")
	fs.IntVar(&cfg.MaxValueSize, "max-value-size", cfg.MaxValueSize, "the daemons' --max-value-size; a few puts are this large")
	noBad := fs.Bool("no-bad-input", false, "leave out the bad-input workload")
	noPower := fs.Bool("no-power-loss", false, "leave out power losses (they need FUSE: root and /dev/fuse); kills are then all kill -9")
	fs.Func("daemon-flag", "an extra flag for every daemon, e.g. --daemon-flag=--sync=false (repeatable)", func(s string) error {
		cfg.DaemonFlags = append(cfg.DaemonFlags, s)
		return nil
	})
	quiet := fs.Bool("quiet", false, "print only the summary")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	_ = short
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "grapevine-chaos: unexpected arguments %q\n", fs.Args())
		return 2
	}
	cfg.Faults.BadInput = !*noBad
	cfg.Faults.PowerLoss = !*noPower
	if bin, err := filepath.Abs(cfg.Bin); err == nil {
		cfg.Bin = bin
	}
	if _, err := os.Stat(cfg.Bin); err != nil {
		fmt.Fprintf(stderr, "grapevine-chaos: %v (build it with `make build`, or pass --bin)\n", err)
		return 2
	}
	if cfg.Dir == "" {
		dir, err := os.MkdirTemp("", "grapevine-chaos-")
		if err != nil {
			fmt.Fprintln(stderr, "grapevine-chaos:", err)
			return 2
		}
		cfg.Dir = dir
	}
	if !*quiet {
		cfg.Log = stdout
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	rep, err := chaos.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "grapevine-chaos: the run failed after %s: %v\n", time.Since(start).Round(time.Second), err)
		return 2
	}
	fmt.Fprint(stdout, rep.Summary())
	fmt.Fprintf(stdout, "history, logs and summary in %s (rerun with --seed %d)\n", cfg.Dir, cfg.Seed)
	if !rep.Valid {
		return 1
	}
	return 0
}

package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/grapevine-kv/grapevine/internal/loadgen"
	"github.com/urfave/cli/v2"
)

func benchCommand() *cli.Command {
	d := loadgen.DefaultConfig()
	flags := append(clientFlags(withNS, withOutput),
		&cli.BoolFlag{Name: "embedded", Usage: "run a peer in this process instead of talking to a daemon (its data in --data DIR if set, else a temporary directory)"},
		&cli.BoolFlag{Name: "in-memory", Usage: "with --embedded or --cluster: keep the peers' data in memory (no disk, no fsync)"},
		&cli.IntFlag{Name: "clients", Value: d.Clients, Usage: "`N` concurrent clients, each with one request in flight"},
		&cli.DurationFlag{Name: "duration", Value: d.Duration, Usage: "how long to send requests (`DURATION`)"},
		&cli.Uint64Flag{Name: "requests", Usage: "stop after `N` operations in all instead of after --duration (e.g. --requests 1000000 --keys 1000000 fills a store with a million keys)"},
		&cli.IntFlag{Name: "value-size", Value: d.ValueSize, Usage: "value size in `BYTES`"},
		&cli.Uint64Flag{Name: "keys", Value: d.Keys, Usage: "key space: `N` distinct keys (16 bytes each, \"b/\" and 14 digits); puts write each once before reusing any"},
		&cli.Uint64Flag{Name: "first-key", Usage: "index of the first key `N`, so runs against one peer write keys of their own"},
		&cli.BoolFlag{Name: "baseline", Usage: "after the run, measure raw Badger synced puts, a Badger WriteBatch of as many keys and fdatasync of 128-byte appends (in --baseline-dir), and print the ratios"},
		&cli.StringFlag{Name: "baseline-dir", Usage: "`DIR`ectory for --baseline, on the disk the peer uses (default: the embedded peers' directory, else the system's temporary directory)"},
		&cli.IntFlag{Name: "cluster", Usage: "start `N` peers in this process (real libp2p on 127.0.0.1), write at the first and report the replication lag; the same load at one peer alone runs first"},
		&cli.BoolFlag{Name: "spread", Usage: "with --cluster: spread the clients over all the peers"},
		&cli.PathFlag{Name: "cpuprofile", Usage: "write a CPU profile of this process during the run to `FILE` (go tool pprof FILE): where --embedded or --cluster peers spend their time; for a daemon use its --pprof"},
	)
	return &cli.Command{
		Name:      "bench",
		Usage:     "measure puts, gets or both against a daemon, an embedded peer or a local cluster",
		ArgsUsage: "put|get|mixed",
		Description: "Runs --clients concurrent clients for --duration and prints a table: operations, errors,\n" +
			"operations per second and latency percentiles (p50/p90/p99/max). Every put writes a key\n" +
			"of its own (\"b/\" and 14 digits); get and mixed first write 10,000 keys (untimed) and read\n" +
			"among them (mixed: half reads, half new writes). By default it drives the daemon of --api\n" +
			"(or --data) over HTTP with keep-alive connections; --embedded runs a peer in this process\n" +
			"(on disk with fsync, or --in-memory) and --cluster N several, connected over loopback.\n" +
			"A progress line is drawn on standard error when it is a terminal. Exit status 1 if an\n" +
			"operation failed or, with --cluster, a key did not reach every peer within 30 s.\n" +
			"Against a daemon it also samples the daemon's memory (resident set and Go heap, from its\n" +
			"/metrics) every second and prints it before, at most and after.\n\n" +
			"Examples:\n  grapevine bench put --api 127.0.0.1:4100 --duration 5s\n" +
			"  grapevine bench put --embedded --data /var/tmp/bench --baseline\n" +
			"  grapevine bench mixed --clients 1 -o json\n" +
			"  grapevine bench put --cluster 5 --spread --duration 5s",
		Flags:  flags,
		Action: benchAction,
	}
}

func benchAction(c *cli.Context) error {
	if c.NArg() != 1 {
		return &exitError{code: codeUsage, msg: "usage: grapevine bench put|get|mixed [flags]; see grapevine bench --help"}
	}
	op, err := loadgen.ParseOp(c.Args().First())
	if err != nil {
		return &exitError{code: codeUsage, msg: fmt.Sprintf("bench: %q is not put, get or mixed; see grapevine bench --help", c.Args().First())}
	}
	asJSON, err := jsonOutput(c)
	if err != nil {
		return err
	}
	plan, cleanup, err := benchPlan(c, op)
	if err != nil {
		return err
	}
	defer cleanup()
	ctx, cancel := ctxOf(c)
	defer cancel()
	stderr := c.App.ErrWriter
	if isTerminal(stderr) {
		plan.Progress = progressLine(stderr, plan.Load.Duration)
	}
	stopProfile, err := startCPUProfile(c.Path("cpuprofile"))
	if err != nil {
		return err
	}
	report, err := loadgen.RunPlan(ctx, plan)
	if perr := stopProfile(); perr != nil && err == nil {
		err = perr
	}
	if plan.Progress != nil {
		fmt.Fprint(stderr, "\r\033[K")
	}
	if report != nil {
		if asJSON {
			if perr := printJSON(c.App.Writer, report); perr != nil {
				return perr
			}
		} else if perr := report.WriteText(c.App.Writer); perr != nil {
			return perr
		}
	}
	if errors.Is(err, loadgen.ErrFailed) {
		return &exitError{code: codeError, msg: strings.TrimPrefix(err.Error(), "loadgen: ")}
	}
	if err != nil {
		return humanError(err, c.String("token") != "")
	}
	return nil
}

// benchPlan turns the flags into a plan; cleanup closes what it opened.
func benchPlan(c *cli.Context, op loadgen.Op) (loadgen.Plan, func(), error) {
	usage := func(format string, args ...any) (loadgen.Plan, func(), error) {
		return loadgen.Plan{}, nil, &exitError{code: codeUsage, msg: "bench: " + fmt.Sprintf(format, args...) + "; see grapevine bench --help"}
	}
	load := loadgen.DefaultConfig()
	load.Op, load.Clients, load.Duration = op, c.Int("clients"), c.Duration("duration")
	load.Requests = c.Uint64("requests")
	load.ValueSize, load.Keys, load.First = c.Int("value-size"), c.Uint64("keys"), c.Uint64("first-key")
	load.Preload = min(load.Preload, load.Keys)
	if err := load.Validate(); err != nil {
		return usage("%s", strings.Split(err.Error(), "\n")[0])
	}
	embedded, cluster := c.Bool("embedded"), c.Int("cluster")
	switch {
	case cluster != 0 && (cluster < 2 || cluster > 64):
		return usage("--cluster takes 2 to 64 peers, not %d", cluster)
	case (embedded || cluster > 0) && c.IsSet("api"):
		return usage("--api names a daemon; --embedded and --cluster run peers in this process")
	case c.Bool("spread") && cluster == 0:
		return usage("--spread spreads the clients over the peers of --cluster")
	case c.Bool("in-memory") && !embedded && cluster == 0:
		return usage("--in-memory is for --embedded or --cluster peers")
	case c.Bool("baseline") && op != loadgen.Put:
		return usage("--baseline compares writes: use it with bench put")
	case c.IsSet("baseline-dir") && !c.Bool("baseline"):
		return usage("--baseline-dir is for --baseline")
	}
	plan := loadgen.Plan{Load: load, InMemory: c.Bool("in-memory"), Cluster: cluster, Spread: c.Bool("spread"), Baseline: c.Bool("baseline")}
	cleanup := func() {}
	if embedded || cluster > 0 {
		if c.IsSet("data") {
			plan.Dir = c.String("data")
			if err := os.MkdirAll(plan.Dir, 0o700); err != nil {
				return loadgen.Plan{}, nil, &exitError{code: codeError, msg: fmt.Sprintf("bench: %v", err)}
			}
		}
		if c.IsSet("ns") {
			return usage("--ns is for a daemon; embedded peers use the default namespace")
		}
	} else {
		endpoints, err := apiEndpoints(c)
		if err != nil {
			return loadgen.Plan{}, nil, err
		}
		o := loadgen.HTTPOptions{Endpoints: strings.Split(endpoints, ","), Namespace: c.String("ns"), Conns: load.Clients, Token: c.String("token")}
		if file := c.String("cacert"); file != "" {
			if o.CACert, err = os.ReadFile(file); err != nil {
				return usage("--cacert: %v", err)
			}
		}
		t, err := loadgen.NewHTTPTarget(o)
		if err != nil {
			return usage("--api: %s", strings.TrimPrefix(strings.TrimPrefix(err.Error(), "client: "), "loadgen: "))
		}
		plan.Target, plan.TargetName, cleanup = t, "http "+endpoints, t.Close
	}
	if dir := c.String("baseline-dir"); dir != "" {
		plan.BaselineDir = dir
	}
	return plan, cleanup, nil
}

// progressLine returns a Plan.Progress that redraws one line on w: the
// run's label, time elapsed and operations so far.
func progressLine(w io.Writer, total time.Duration) func(string, loadgen.Progress) {
	return func(label string, p loadgen.Progress) {
		rate := 0.0
		if p.Elapsed > 0 {
			rate = float64(p.Ops) / p.Elapsed.Seconds()
		}
		done := min(p.Elapsed, total)
		width := 20
		filled := int(float64(width) * float64(done) / float64(total))
		fmt.Fprintf(w, "\r\033[K%s [%s%s] %s/%s  %d ops  %.0f ops/s", label,
			strings.Repeat("#", filled), strings.Repeat(" ", width-filled),
			done.Round(100*time.Millisecond), total, p.Ops, rate)
	}
}

// startCPUProfile starts a CPU profile into path ("" for none) and returns
// what ends it.
func startCPUProfile(path string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, &exitError{code: codeError, msg: fmt.Sprintf("bench: --cpuprofile: %v", err)}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, &exitError{code: codeError, msg: fmt.Sprintf("bench: --cpuprofile: %v", err)}
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}

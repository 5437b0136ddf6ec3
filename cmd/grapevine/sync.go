package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/grapevine-kv/grapevine/api/apitype"
	"github.com/grapevine-kv/grapevine/api/client"
	"github.com/urfave/cli/v2"
)

func syncCommand() *cli.Command {
	flags := append(clientFlags(),
		&cli.BoolFlag{Name: "wait", Usage: "repeat rounds until one with a connected peer finds no difference"},
		&cli.DurationFlag{Name: "timeout", Value: 10 * time.Minute, Usage: "give up after this long"},
	)
	return &cli.Command{
		Name:  "sync",
		Usage: "run an anti-entropy round now (with --wait: until the peer is in sync)",
		Flags: flags,
		Action: clientAction("[--wait] [--timeout D]", 0, 0, func(c *cli.Context, ctx context.Context, cl *client.Client) error {
			ctx, cancel := context.WithTimeout(ctx, c.Duration("timeout"))
			defer cancel()
			w := c.App.Writer
			json := c.String("output") == "json"
			for round := 1; ; round++ {
				stop := showProgress(ctx, w, cl, !json && isTerminal(w))
				res, err := cl.Sync(ctx)
				stop()
				if err != nil {
					if ctx.Err() != nil {
						return &exitError{code: 1, msg: fmt.Sprintf("not in sync after %s (round %d)", c.Duration("timeout"), round)}
					}
					return err
				}
				if json {
					if err := printJSON(w, res); err != nil {
						return err
					}
				} else {
					printRound(w, round, res)
				}
				if res.Clean || !c.Bool("wait") {
					if res.Clean && !json {
						fmt.Fprintf(w, "in sync with %s\n", res.Peer)
					}
					return nil
				}
			}
		}),
	}
}

func printRound(w io.Writer, round int, res apitype.SyncResult) {
	var sent, received, repaired, trips int
	var bytesIn, bytesOut int64
	for _, ns := range res.Namespaces {
		sent, received, repaired = sent+ns.StatesSent, received+ns.StatesReceived, repaired+ns.Repaired
		bytesIn, bytesOut, trips = bytesIn+ns.BytesReceived, bytesOut+ns.BytesSent, trips+ns.RoundTrips
	}
	fmt.Fprintf(w, "round %d with %s: %d namespaces, %d round trips, sent %d states (%s), received %d (%s), %d changed, %.0f ms\n",
		round, shortID(res.Peer), len(res.Namespaces), trips, sent, humanBytes(bytesOut), received, humanBytes(bytesIn), repaired, res.DurationMS)
}

func shortID(id string) string {
	if len(id) > 16 {
		return id[:6] + "…" + id[len(id)-6:]
	}
	return id
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// showProgress draws a progress bar from the daemon's status while a round
// runs, until the returned stop is called. It draws nothing if !enabled.
func showProgress(ctx context.Context, w io.Writer, cl *client.Client, enabled bool) (stop func()) {
	if !enabled {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		drawn := false
		for {
			select {
			case <-ctx.Done():
				if drawn {
					fmt.Fprint(w, "\r\033[K")
				}
				return
			case <-tick.C:
			}
			st, err := cl.Status(ctx)
			if err != nil {
				continue
			}
			var got, want uint64
			syncing := false
			for _, ns := range st.Namespaces {
				if ns.Sync.Syncing {
					syncing = true
					got, want = got+ns.Sync.KeysReceived, want+ns.Sync.KeysEstimated
				}
			}
			if !syncing {
				continue
			}
			fmt.Fprintf(w, "\r\033[K%s", progressBar(got, want, 30))
			drawn = true
		}
	}()
	return func() { cancel(); <-done }
}

// progressBar renders "[#####.....] 1234/5000 keys (24%)"; with an unknown
// total it shows the count alone.
func progressBar(got, want uint64, width int) string {
	if want == 0 {
		return fmt.Sprintf("syncing: %d keys received", got)
	}
	frac := min(1, float64(got)/float64(want))
	n := int(frac * float64(width))
	return fmt.Sprintf("[%s%s] %d/%d keys (%d%%)", strings.Repeat("#", n), strings.Repeat(".", width-n), got, want, int(frac*100))
}

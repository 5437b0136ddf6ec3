package main

import (
	"context"
	"errors"
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
	flags := append(clientFlags(withOutput),
		&cli.BoolFlag{Name: "wait", Usage: "wait for a first peer if none is connected, then repeat rounds until one finds no difference"},
		&cli.BoolFlag{Name: "all", Usage: "like --wait, but with every connected peer in turn, until a pass in which every round is clean"},
		&cli.DurationFlag{Name: "timeout", EnvVars: []string{"GRAPEVINE_TIMEOUT"}, Value: 10 * time.Minute, Usage: "give up after `DURATION`, waiting for a peer included (the whole command, not one request)"},
	)
	return &cli.Command{
		Name:  "sync",
		Usage: "run an anti-entropy round now (with --wait: until the peer is in sync)",
		Description: "Runs one anti-entropy round, over every namespace, with a random connected peer, and\n" +
			"prints what it exchanged (-o json: one JSON object per round, one a line). With --wait it\n" +
			"first waits for a peer to connect, then repeats rounds until one finds no difference; with\n" +
			"--all, until a pass over every connected peer finds none. On a terminal it shows the keys\n" +
			"received so far, each counted once however many rounds run. Exit status 1 if --timeout\n" +
			"passes first.\n\n" +
			"Examples:\n  grapevine sync\n  grapevine sync --wait --timeout 2m\n  grapevine sync --all -o json",
		Flags: flags,
		Action: clientAction("[--wait|--all] [--timeout D]", 0, 0, func(c *cli.Context, ctx context.Context, cl *client.Client) error {
			if c.Duration("timeout") <= 0 {
				return &exitError{code: codeUsage, msg: fmt.Sprintf("--timeout takes a positive duration such as 2m, got %s", c.Duration("timeout"))}
			}
			ctx, cancel := context.WithTimeout(ctx, c.Duration("timeout"))
			defer cancel()
			asJSON, _ := jsonOutput(c)
			s := &syncer{c: c, cl: cl, w: c.App.Writer, json: asJSON}
			switch {
			case c.Bool("all"):
				return s.all(ctx)
			case c.Bool("wait"):
				return s.wait(ctx)
			}
			_, err := s.round(ctx, "")
			return err
		}),
	}
}

// syncer runs the rounds of one `grapevine sync`.
type syncer struct {
	c      *cli.Context
	cl     *client.Client
	w      io.Writer
	json   bool
	rounds int
	keys   uint64 // states received in the finished rounds: progress counts each once
	waited bool   // "waiting for a peer" was printed
}

// round runs one round, with peer or ("") a random one, and prints it.
func (s *syncer) round(ctx context.Context, peer string) (apitype.SyncResult, error) {
	stop := showProgress(ctx, s.w, s.cl, s.keys, !s.json && isTerminal(s.w))
	var res apitype.SyncResult
	var err error
	if peer == "" {
		res, err = s.cl.Sync(ctx)
	} else {
		res, err = s.cl.SyncWith(ctx, peer)
	}
	stop()
	if err != nil {
		return res, err
	}
	s.rounds++ // a round that failed (no peer yet) is not one
	for _, ns := range res.Namespaces {
		s.keys += uint64(ns.StatesReceived)
	}
	if s.json {
		return res, printJSONLine(s.w, res)
	}
	printRound(s.w, s.rounds, res)
	return res, nil
}

// syncRetry is how often --wait asks again for a connected peer.
const syncRetry = 250 * time.Millisecond

// waitForPeer waits a little before asking for a peer again, saying once
// on standard error that it waits; false if ctx ended first.
func (s *syncer) waitForPeer(ctx context.Context) bool {
	if !s.waited {
		fmt.Fprintf(s.c.App.ErrWriter, "grapevine sync: no peer connected yet; waiting up to %s\n", s.c.Duration("timeout"))
		s.waited = true
	}
	select {
	case <-ctx.Done():
		return false
	case <-time.After(syncRetry):
		return true
	}
}

// timedOut is the error of a --wait or --all that ran out of time.
func (s *syncer) timedOut() error {
	if s.rounds == 0 {
		return &exitError{code: codeError, msg: fmt.Sprintf("no peer connected within %s (see grapevine peers, and the daemon's --bootstrap)", s.c.Duration("timeout"))}
	}
	return &exitError{code: codeError, msg: fmt.Sprintf("not in sync after %s (%d rounds)", s.c.Duration("timeout"), s.rounds)}
}

// wait repeats rounds with random peers until one is clean.
func (s *syncer) wait(ctx context.Context) error {
	for {
		res, err := s.round(ctx, "")
		switch {
		case ctx.Err() != nil:
			return s.timedOut()
		case errors.Is(err, apitype.ErrNoPeers):
			if !s.waitForPeer(ctx) {
				return s.timedOut()
			}
			continue
		case err != nil:
			return err
		}
		if res.Clean {
			if !s.json {
				fmt.Fprintf(s.w, "in sync with %s\n", res.Peer)
			}
			return nil
		}
	}
}

// all repeats passes over every connected peer until one pass is clean.
func (s *syncer) all(ctx context.Context) error {
	for {
		peers, err := s.cl.Peers(ctx)
		switch {
		case ctx.Err() != nil:
			return s.timedOut()
		case err != nil:
			return err
		case len(peers) == 0:
			if !s.waitForPeer(ctx) {
				return s.timedOut()
			}
			continue
		}
		clean := true
		for _, p := range peers {
			res, err := s.round(ctx, p.ID)
			if ctx.Err() != nil {
				return s.timedOut()
			}
			if err != nil { // e.g. the peer left: the next pass lists the peers again
				fmt.Fprintf(s.c.App.ErrWriter, "grapevine sync: round with %s: %v\n", shortID(p.ID), humanError(err, false))
			}
			clean = clean && err == nil && res.Clean
		}
		if clean {
			if !s.json {
				fmt.Fprintf(s.w, "in sync with all %d connected peers\n", len(peers))
			}
			return nil
		}
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
// runs, until the returned stop is called, counting the keys of earlier
// rounds (before) too. It draws nothing if !enabled.
func showProgress(ctx context.Context, w io.Writer, cl *client.Client, before uint64, enabled bool) (stop func()) {
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
			if got += before; want > 0 {
				want += before
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

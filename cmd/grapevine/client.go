package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/grapevine-kv/grapevine/api"
	"github.com/grapevine-kv/grapevine/api/apitype"
	"github.com/grapevine-kv/grapevine/api/client"
	"github.com/urfave/cli/v2"
)

// clientFlags are shared by every command that talks to a daemon.
func clientFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "api", EnvVars: []string{"GRAPEVINE_API"}, Usage: "daemon HTTP address(es), HOST:PORT[,HOST:PORT...]; default: the one written in `DATA`/api"},
		&cli.StringFlag{Name: "data", EnvVars: []string{"GRAPEVINE_DATA"}, Value: defaultDataDir(), Usage: "data directory of a local daemon, to find its API address"},
		&cli.StringFlag{Name: "ns", EnvVars: []string{"GRAPEVINE_NS"}, Usage: "namespace (default \"default\")"},
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "text", Usage: "output format: text or json"},
		&cli.StringFlag{Name: "token", EnvVars: []string{"GRAPEVINE_TOKEN"}, Usage: "API `TOKEN` for a daemon started with --api-token-file (prefer the env var: a flag shows in ps)"},
		&cli.StringFlag{Name: "cacert", EnvVars: []string{"GRAPEVINE_CACERT"}, Usage: "PEM `FILE` of the CA (or self-signed certificate) to trust for an https:// API"},
	}
}

// newClient builds an API client from the client flags.
func newClient(c *cli.Context) (*client.Client, error) {
	endpoints := c.String("api")
	if endpoints == "" {
		addr, err := api.ReadAddrFile(c.String("data"))
		if errors.Is(err, api.ErrStaleAddrFile) {
			return nil, &exitError{code: 1, msg: detail(err, api.ErrStaleAddrFile, "api: ")}
		}
		if err != nil {
			return nil, &exitError{code: 1, msg: fmt.Sprintf("no daemon found: %s has no API address (is `grapevine daemon` running with --data %s?); or pass --api HOST:PORT", c.String("data"), c.String("data"))}
		}
		endpoints = addr
	}
	switch c.String("output") {
	case "text", "json":
	default:
		return nil, &exitError{code: 2, msg: fmt.Sprintf("--output must be text or json, not %q", c.String("output"))}
	}
	var opts []client.Option
	if tok := c.String("token"); tok != "" {
		opts = append(opts, client.WithToken(tok))
	}
	if file := c.String("cacert"); file != "" {
		pem, err := os.ReadFile(file)
		if err != nil {
			return nil, &exitError{code: 2, msg: fmt.Sprintf("--cacert: %v", err)}
		}
		opts = append(opts, client.WithCACert(pem))
	}
	cl, err := client.New(strings.Split(endpoints, ","), c.String("ns"), opts...)
	if err != nil {
		return nil, &exitError{code: 2, msg: err.Error()}
	}
	return cl, nil
}

// ctxOf returns a context cancelled on Ctrl-C.
func ctxOf(c *cli.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(c.Context, os.Interrupt)
}

// clientAction wraps a command body with its client, context and error
// reporting.
func clientAction(nargs string, minArgs, maxArgs int, body func(c *cli.Context, ctx context.Context, cl *client.Client) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		if n := c.NArg(); n < minArgs || n > maxArgs {
			return &exitError{code: 2, msg: fmt.Sprintf("usage: grapevine %s %s", c.Command.Name, nargs)}
		}
		cl, err := newClient(c)
		if err != nil {
			return err
		}
		ctx, cancel := ctxOf(c)
		defer cancel()
		return humanError(body(c, ctx, cl), c.String("token") != "")
	}
}

// humanError turns API errors into messages for a person; withToken says
// whether the request carried an API token.
func humanError(err error, withToken bool) error {
	var e *apitype.Error
	var unknownCA x509.UnknownAuthorityError
	var badCert *tls.CertificateVerificationError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, apitype.ErrUnauthorized) && !withToken:
		return &exitError{code: 1, msg: "unauthorized: this daemon needs an API token (--token or GRAPEVINE_TOKEN)"}
	case errors.Is(err, apitype.ErrUnauthorized):
		return &exitError{code: 1, msg: "unauthorized: the daemon does not accept this API token (--token or GRAPEVINE_TOKEN)"}
	case errors.Is(err, apitype.ErrForbidden) && errors.As(err, &e):
		return &exitError{code: 1, msg: "forbidden: " + e.Message}
	case errors.As(err, &unknownCA):
		return &exitError{code: 1, msg: "the daemon's TLS certificate is not signed by a trusted CA; pass its CA with --cacert FILE (or GRAPEVINE_CACERT): " + err.Error()}
	case errors.As(err, &badCert):
		return &exitError{code: 1, msg: "the daemon's TLS certificate is not valid here: " + err.Error()}
	case errors.As(err, &e):
		return &exitError{code: 1, msg: e.Message}
	case errors.Is(err, client.ErrUnreachable):
		return &exitError{code: 1, msg: "no grapevine daemon reachable: " + err.Error()}
	}
	return err
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printJSONLine(w io.Writer, v any) error { return json.NewEncoder(w).Encode(v) }

func putCommand() *cli.Command {
	return &cli.Command{
		Name: "put", Usage: "set KEY to VALUE (VALUE \"-\" reads standard input)", ArgsUsage: "KEY VALUE", Flags: append(clientFlags(), writeFlags(true)...),
		Action: clientAction("KEY VALUE", 2, 2, func(c *cli.Context, ctx context.Context, cl *client.Client) error {
			opts, err := writeOptions(c)
			if err != nil {
				return err
			}
			value := []byte(c.Args().Get(1))
			if c.Args().Get(1) == "-" {
				if value, err = io.ReadAll(c.App.Reader); err != nil {
					return fmt.Errorf("reading standard input: %w", err)
				}
			}
			v, err := cl.PutWith(ctx, c.Args().Get(0), value, opts)
			if err != nil || c.String("output") != "json" {
				return preconditionError(err)
			}
			return printJSON(c.App.Writer, map[string]any{"key": c.Args().Get(0), "version": v})
		}),
	}
}

func getCommand() *cli.Command {
	return &cli.Command{
		Name: "get", Usage: "print the value of KEY (exit status 1 if absent)", ArgsUsage: "KEY", Flags: clientFlags(),
		Action: clientAction("KEY", 1, 1, func(c *cli.Context, ctx context.Context, cl *client.Client) error {
			key := c.Args().Get(0)
			v, err := cl.Get(ctx, key)
			var e *apitype.Error
			if errors.As(err, &e) && errors.Is(err, apitype.ErrNotFound) && strings.HasPrefix(e.Message, fmt.Sprintf("key %q is a ", key)) {
				return &exitError{code: 1, msg: e.Message} // a counter or a set: the daemon says how to read it
			}
			if errors.Is(err, apitype.ErrNotFound) {
				return &exitError{code: 1, msg: fmt.Sprintf("key %q not found", key)}
			}
			if err != nil {
				return err
			}
			if c.String("output") == "json" {
				return printJSON(c.App.Writer, apitype.Entry{Key: key, Value: v.Data, Version: v.Version})
			}
			_, err = c.App.Writer.Write(v.Data)
			return err
		}),
	}
}

func delCommand() *cli.Command {
	return &cli.Command{
		Name: "del", Usage: "delete KEY (--counter: reset the counter KEY)", ArgsUsage: "KEY",
		Flags: append(append(clientFlags(), writeFlags(false)...),
			&cli.BoolFlag{Name: "counter", Usage: "reset the counter KEY instead: increments this peer has seen are removed, concurrent ones elsewhere survive"}),
		Action: clientAction("[--counter] [--cas VERSION] KEY", 1, 1, func(c *cli.Context, ctx context.Context, cl *client.Client) error {
			opts, err := writeOptions(c)
			if err != nil {
				return err
			}
			if c.Bool("counter") {
				if opts != (client.WriteOptions{}) {
					return &exitError{code: 2, msg: "del --counter takes no --cas: a counter has no version"}
				}
				return cl.ResetCounter(ctx, c.Args().Get(0))
			}
			return preconditionError(cl.DeleteWith(ctx, c.Args().Get(0), opts))
		}),
	}
}

func lsCommand() *cli.Command {
	flags := append(clientFlags(),
		&cli.StringFlag{Name: "prefix", Usage: "only keys starting with `P`"},
		&cli.BoolFlag{Name: "keys-only", Usage: "print keys and their types, without values"},
	)
	return &cli.Command{
		Name: "ls", Usage: "list keys of every type in key order: KEY TYPE VALUE (register, counter, set)", Flags: flags,
		Action: clientAction("[--prefix P] [--keys-only]", 0, 0, func(c *cli.Context, ctx context.Context, cl *client.Client) error {
			opts := client.ListOptions{Prefix: c.String("prefix"), KeysOnly: c.Bool("keys-only"), Limit: 1000}
			all := []apitype.Entry{}
			for {
				page, err := cl.List(ctx, opts)
				if err != nil {
					return err
				}
				for _, e := range page.Entries {
					if c.String("output") == "json" {
						all = append(all, e)
					} else if opts.KeysOnly {
						fmt.Fprintf(c.App.Writer, "%s\t%s\n", e.Key, e.Type)
					} else {
						fmt.Fprintln(c.App.Writer, lsLine(e))
					}
				}
				if page.Next == "" {
					break
				}
				opts.After = page.Next
			}
			if c.String("output") == "json" {
				return printJSON(c.App.Writer, all)
			}
			return nil
		}),
	}
}

func incrCommand() *cli.Command {
	return &cli.Command{
		Name: "incr", Usage: "add N (default 1, may be negative) to the counter KEY and print its new value", ArgsUsage: "KEY [N]", Flags: clientFlags(),
		Action: clientAction("KEY [N]", 1, 2, func(c *cli.Context, ctx context.Context, cl *client.Client) error {
			by := int64(1)
			if c.NArg() == 2 {
				var err error
				if by, err = strconv.ParseInt(c.Args().Get(1), 10, 64); err != nil {
					return &exitError{code: 2, msg: fmt.Sprintf("N must be a whole number, not %q", c.Args().Get(1))}
				}
			}
			v, err := cl.Incr(ctx, c.Args().Get(0), by)
			if err != nil {
				return err
			}
			if c.String("output") == "json" {
				return printJSON(c.App.Writer, apitype.Counter{Key: c.Args().Get(0), Value: v})
			}
			_, err = fmt.Fprintln(c.App.Writer, v)
			return err
		}),
	}
}

func peersCommand() *cli.Command {
	return &cli.Command{
		Name: "peers", Usage: "list connected peers, one per line", Flags: clientFlags(),
		Action: clientAction("", 0, 0, func(c *cli.Context, ctx context.Context, cl *client.Client) error {
			peers, err := cl.Peers(ctx)
			if err != nil {
				return err
			}
			if c.String("output") == "json" {
				return printJSON(c.App.Writer, peers)
			}
			for _, p := range peers {
				fmt.Fprintln(c.App.Writer, p.ID)
			}
			return nil
		}),
	}
}

func statusCommand() *cli.Command {
	return &cli.Command{
		Name: "status", Usage: "show the peer's identity, network, peers and key counts", Flags: clientFlags(),
		Action: clientAction("", 0, 0, func(c *cli.Context, ctx context.Context, cl *client.Client) error {
			st, err := cl.Status(ctx)
			if err != nil {
				return err
			}
			if c.String("output") == "json" {
				return printJSON(c.App.Writer, st)
			}
			w := c.App.Writer
			fmt.Fprintf(w, "peer:     %s\nnetwork:  %s\npeers:    %d connected\n", st.ID, st.Network, st.Peers)
			for _, a := range st.Addrs {
				fmt.Fprintf(w, "address:  %s\n", a)
			}
			names := make([]string, 0, len(st.Namespaces))
			for ns := range st.Namespaces {
				names = append(names, ns)
			}
			slices.Sort(names)
			for _, ns := range names {
				s := st.Namespaces[ns]
				fmt.Fprintf(w, "namespace %s: %d items, %d tombstones", ns, s.Items, s.Tombstones)
				switch p := s.Sync; {
				case p.Syncing:
					fmt.Fprintf(w, ", syncing from %s: %s", shortID(p.Peer), progressBar(p.KeysReceived, p.KeysEstimated, 20))
				case !p.LastRound.IsZero():
					fmt.Fprintf(w, ", last sync %s ago", time.Since(p.LastRound).Round(time.Second))
				}
				fmt.Fprintln(w)
			}
			return nil
		}),
	}
}

func idCommand() *cli.Command {
	return &cli.Command{
		Name: "id", Usage: "print the peer's full multiaddrs, one per line (use one as another peer's --bootstrap)", Flags: clientFlags(),
		Action: clientAction("", 0, 0, func(c *cli.Context, ctx context.Context, cl *client.Client) error {
			st, err := cl.Status(ctx)
			if err != nil {
				return err
			}
			for _, a := range st.Addrs {
				fmt.Fprintln(c.App.Writer, a)
			}
			return nil
		}),
	}
}

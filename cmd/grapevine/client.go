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

// newClient builds an API client from the client flags.
func newClient(c *cli.Context) (*client.Client, error) {
	if _, err := jsonOutput(c); err != nil {
		return nil, err
	}
	endpoints, err := apiEndpoints(c)
	if err != nil {
		return nil, err
	}
	var opts []client.Option
	if c.IsSet("timeout") && c.Command.Name != "sync" {
		if c.Duration("timeout") <= 0 {
			return nil, &exitError{code: codeUsage, msg: fmt.Sprintf("--timeout takes a positive duration such as 2s, got %s", c.Duration("timeout"))}
		}
		opts = append(opts, client.WithTimeout(c.Duration("timeout")))
	}
	if c.Bool("balance") {
		opts = append(opts, client.WithBalance())
	}
	if tok := c.String("token"); tok != "" {
		opts = append(opts, client.WithToken(tok))
	}
	if file := c.String("cacert"); file != "" {
		pem, err := os.ReadFile(file)
		if err != nil {
			return nil, &exitError{code: codeUsage, msg: fmt.Sprintf("--cacert: %v", err)}
		}
		opts = append(opts, client.WithCACert(pem))
	}
	cl, err := client.New(strings.Split(endpoints, ","), c.String("ns"), opts...)
	if err != nil {
		return nil, &exitError{code: codeUsage, msg: "--api: " + strings.TrimPrefix(err.Error(), "client: ")}
	}
	return cl, nil
}

// apiEndpoints returns the daemon addresses of --api, else the address a
// daemon on --data wrote.
func apiEndpoints(c *cli.Context) (string, error) {
	if endpoints := c.String("api"); endpoints != "" {
		return endpoints, nil
	}
	addr, err := api.ReadAddrFile(c.String("data"))
	if errors.Is(err, api.ErrStaleAddrFile) {
		return "", &exitError{code: codeError, msg: detail(err, api.ErrStaleAddrFile, "api: ")}
	}
	if err != nil {
		return "", &exitError{code: codeError, msg: fmt.Sprintf("no daemon found: %s has no API address (is `grapevine daemon` running with --data %s?); or pass --api HOST:PORT", c.String("data"), c.String("data"))}
	}
	return addr, nil
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
			return &exitError{code: codeUsage, msg: fmt.Sprintf("usage: grapevine %s %s; see grapevine %s --help", c.Command.FullName(), nargs, c.Command.FullName())}
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
		return &exitError{code: codeError, msg: "unauthorized: this daemon needs an API token (--token or GRAPEVINE_TOKEN)"}
	case errors.Is(err, apitype.ErrUnauthorized):
		return &exitError{code: codeError, msg: "unauthorized: the daemon does not accept this API token (--token or GRAPEVINE_TOKEN)"}
	case errors.Is(err, apitype.ErrForbidden) && errors.As(err, &e):
		return &exitError{code: codeError, msg: "forbidden: " + e.Message}
	case errors.As(err, &unknownCA):
		return &exitError{code: codeError, msg: "the daemon's TLS certificate is not signed by a trusted CA; pass its CA with --cacert FILE (or GRAPEVINE_CACERT): " + err.Error()}
	case errors.As(err, &badCert):
		return &exitError{code: codeError, msg: "the daemon's TLS certificate is not valid here: " + err.Error()}
	case errors.Is(err, apitype.ErrNotFound) && errors.As(err, &e):
		return &exitError{code: codeNotFound, msg: e.Message}
	case errors.As(err, &e):
		return &exitError{code: codeError, msg: e.Message}
	case errors.Is(err, client.ErrUnreachable):
		return &exitError{code: codeError, msg: detail(err, client.ErrUnreachable, "client: ")}
	case errors.Is(err, client.ErrTimeout):
		return &exitError{code: codeError, msg: detail(err, client.ErrTimeout, "client: ")}
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
		Name: "put", Usage: "set KEY to VALUE (VALUE \"-\" reads standard input)", ArgsUsage: "KEY VALUE",
		Description: "Writes VALUE at KEY on the peer and prints nothing (-o json: the key and the new version).\n" +
			"Sent again to the next --api endpoint if one does not answer within --timeout: a put\n" +
			"sent twice leaves the same value (not so with --cas or --if-absent, which are not retried).\n\n" +
			"Examples:\n  grapevine put greeting hello\n  grapevine put config.json - < config.json\n  grapevine put session/42 token --ttl 30m -o json",
		Flags: append(clientFlags(withNS, withOutput, withTimeout), writeFlags(true)...),
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
			if asJSON, _ := jsonOutput(c); err != nil || !asJSON {
				return preconditionError(err)
			}
			return printJSON(c.App.Writer, apitype.Entry{Key: c.Args().Get(0), Type: "register", Version: v})
		}),
	}
}

func getCommand() *cli.Command {
	return &cli.Command{
		Name: "get", Usage: "print the value of KEY (exit status 3 if absent)", ArgsUsage: "KEY",
		Description: "Writes the value's bytes as they are, like cat (on a terminal, with a newline after\n" +
			"them); -o json prints the key, the value (base64) and its version. Exit status 3 if KEY\n" +
			"is absent. Reads fail over to the next --api endpoint after --timeout; --balance spreads\n" +
			"them round-robin.\n\n" +
			"Examples:\n  grapevine get greeting\n  grapevine get greeting -o json\n  grapevine get --api 10.0.0.1:4100,10.0.0.2:4100 --timeout 2s greeting",
		Flags: clientFlags(withNS, withOutput, withTimeout, withBalance),
		Action: clientAction("KEY", 1, 1, func(c *cli.Context, ctx context.Context, cl *client.Client) error {
			key := c.Args().Get(0)
			v, err := cl.Get(ctx, key)
			var e *apitype.Error
			if errors.As(err, &e) && errors.Is(err, apitype.ErrNotFound) && strings.HasPrefix(e.Message, fmt.Sprintf("key %q is a ", key)) {
				return &exitError{code: codeError, msg: e.Message} // a counter or a set: the daemon says how to read it
			}
			if errors.Is(err, apitype.ErrNotFound) {
				return &exitError{code: codeNotFound, msg: fmt.Sprintf("key %q not found", key)}
			}
			if err != nil {
				return err
			}
			if asJSON, _ := jsonOutput(c); asJSON {
				return printJSON(c.App.Writer, apitype.Entry{Key: key, Type: "register", Value: v.Data, Version: v.Version})
			}
			return writeValue(c.App.Writer, v.Data)
		}),
	}
}

func delCommand() *cli.Command {
	return &cli.Command{
		Name: "del", Usage: "delete KEY (--counter: reset the counter KEY)", ArgsUsage: "KEY",
		Description: "Deletes KEY (no error if it is absent). Sent again to the next --api endpoint if one\n" +
			"does not answer within --timeout, unless conditional (--cas).\n\n" +
			"Examples:\n  grapevine del greeting\n  grapevine del greeting --cas 1712345678901234\n  grapevine del --counter visits",
		Flags: append(append(clientFlags(withNS, withTimeout), writeFlags(false)...),
			&cli.BoolFlag{Name: "counter", Usage: "reset the counter KEY instead: increments this peer has seen are removed, concurrent ones elsewhere survive"}),
		Action: clientAction("[--counter] [--cas VERSION] KEY", 1, 1, func(c *cli.Context, ctx context.Context, cl *client.Client) error {
			opts, err := writeOptions(c)
			if err != nil {
				return err
			}
			if c.Bool("counter") {
				if opts != (client.WriteOptions{}) {
					return &exitError{code: codeUsage, msg: "del --counter takes no --cas: a counter has no version"}
				}
				return cl.ResetCounter(ctx, c.Args().Get(0))
			}
			return preconditionError(cl.DeleteWith(ctx, c.Args().Get(0), opts))
		}),
	}
}

func lsCommand() *cli.Command {
	flags := append(clientFlags(withNS, withOutput, withTimeout, withBalance),
		&cli.StringFlag{Name: "prefix", Usage: "only keys starting with `P`"},
		&cli.BoolFlag{Name: "keys-only", Usage: "print keys and their types, without values"},
	)
	return &cli.Command{
		Name: "ls", Usage: "list keys of every type in key order: KEY TYPE VALUE (register, counter, set)",
		Description: "Prints one line per key, tab-separated: KEY TYPE VALUE (a counter's number, a set's\n" +
			"members comma-separated). A key, value or member that is not printable text, or holds a\n" +
			"separator, is printed Go-quoted (\"line1\\nline2\", \"\\x00\\x01\"); -o json gives the exact\n" +
			"bytes (base64) with each key's version.\n\n" +
			"Examples:\n  grapevine ls\n  grapevine ls --prefix user/ --keys-only\n  grapevine ls -o json --ns sessions",
		Flags: flags,
		Action: clientAction("[--prefix P] [--keys-only]", 0, 0, func(c *cli.Context, ctx context.Context, cl *client.Client) error {
			asJSON, _ := jsonOutput(c)
			opts := client.ListOptions{Prefix: c.String("prefix"), KeysOnly: c.Bool("keys-only"), Limit: 1000}
			all := []apitype.Entry{}
			for {
				page, err := cl.List(ctx, opts)
				if err != nil {
					return err
				}
				for _, e := range page.Entries {
					switch {
					case asJSON:
						all = append(all, e)
					case opts.KeysOnly:
						fmt.Fprintf(c.App.Writer, "%s\t%s\n", textField([]byte(e.Key), "\t"), e.Type)
					default:
						fmt.Fprintln(c.App.Writer, lsLine(e))
					}
				}
				if page.Next == "" {
					break
				}
				opts.After = page.Next
			}
			if asJSON {
				return printJSON(c.App.Writer, all)
			}
			return nil
		}),
	}
}

func incrCommand() *cli.Command {
	return &cli.Command{
		Name: "incr", Usage: "add N (default 1, may be negative) to the counter KEY and print its new value", ArgsUsage: "KEY [N]",
		Description: "Never sent to a second --api endpoint once the first may have received it: an\n" +
			"increment that timed out may have been applied, and sending it again could count it twice.\n\n" +
			"Examples:\n  grapevine incr visits\n  grapevine incr stock -5\n  grapevine incr visits 10 -o json",
		Flags: clientFlags(withNS, withOutput, withTimeout),
		Action: clientAction("KEY [N]", 1, 2, func(c *cli.Context, ctx context.Context, cl *client.Client) error {
			by := int64(1)
			if c.NArg() == 2 {
				var err error
				if by, err = strconv.ParseInt(c.Args().Get(1), 10, 64); err != nil {
					return &exitError{code: codeUsage, msg: fmt.Sprintf("N must be a whole number, not %q", c.Args().Get(1))}
				}
			}
			v, err := cl.Incr(ctx, c.Args().Get(0), by)
			if err != nil {
				return err
			}
			if asJSON, _ := jsonOutput(c); asJSON {
				return printJSON(c.App.Writer, apitype.Counter{Key: c.Args().Get(0), Value: v})
			}
			_, err = fmt.Fprintln(c.App.Writer, v)
			return err
		}),
	}
}

func peersCommand() *cli.Command {
	return &cli.Command{
		Name: "peers", Usage: "list connected peers, one per line",
		Description: "Prints the IDs of the peers this peer is connected to; -o json adds their addresses\n" +
			"and latencies.\n\nExamples:\n  grapevine peers\n  grapevine peers -o json",
		Flags: clientFlags(withOutput, withTimeout),
		Action: clientAction("", 0, 0, func(c *cli.Context, ctx context.Context, cl *client.Client) error {
			peers, err := cl.Peers(ctx)
			if err != nil {
				return err
			}
			if asJSON, _ := jsonOutput(c); asJSON {
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
		Name: "status", Usage: "show the peer's identity, network, peers and key counts",
		Description: "Shows the peer ID, network, connected peers, addresses, the namespaces the peer\n" +
			"replicates (its --namespaces patterns), holds and forwards to other peers and, per namespace,\n" +
			"live items, tombstones and sync progress.\n\nExamples:\n  grapevine status\n  grapevine status -o json --api 10.0.0.2:4100",
		Flags: clientFlags(withOutput, withTimeout),
		Action: clientAction("", 0, 0, func(c *cli.Context, ctx context.Context, cl *client.Client) error {
			st, err := cl.Status(ctx)
			if err != nil {
				return err
			}
			if asJSON, _ := jsonOutput(c); asJSON {
				return printJSON(c.App.Writer, st)
			}
			w := c.App.Writer
			fmt.Fprintf(w, "peer:     %s\nnetwork:  %s\npeers:    %d connected\n", st.ID, st.Network, st.Peers)
			for _, a := range st.Addrs {
				fmt.Fprintf(w, "address:  %s\n", a)
			}
			writeReplication(w, st)
			writeRecovery(w, st)
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

// idInfo is `grapevine id -o json`.
type idInfo struct {
	ID    string   `json:"id"`
	Addrs []string `json:"addrs"`
}

func idCommand() *cli.Command {
	return &cli.Command{
		Name: "id", Usage: "print the peer's full multiaddrs, one per line (use one as another peer's --bootstrap)",
		Description: "Examples:\n  grapevine id\n  grapevine daemon --data ~/peer2 --bootstrap $(grapevine id | head -1)\n  grapevine id -o json",
		Flags:       clientFlags(withOutput, withTimeout),
		Action: clientAction("", 0, 0, func(c *cli.Context, ctx context.Context, cl *client.Client) error {
			st, err := cl.Status(ctx)
			if err != nil {
				return err
			}
			if asJSON, _ := jsonOutput(c); asJSON {
				return printJSON(c.App.Writer, idInfo{ID: st.ID, Addrs: append([]string{}, st.Addrs...)})
			}
			for _, a := range st.Addrs {
				fmt.Fprintln(c.App.Writer, a)
			}
			return nil
		}),
	}
}

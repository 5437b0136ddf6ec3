package main

import (
	"context"
	"fmt"

	"github.com/grapevine-kv/grapevine/api/apitype"
	"github.com/grapevine-kv/grapevine/api/client"
	"github.com/urfave/cli/v2"
)

func watchCommand() *cli.Command {
	flags := append(clientFlags(withNS, withOutput),
		&cli.StringFlag{Name: "prefix", Usage: "only keys starting with `P`"},
		&cli.Uint64Flag{Name: "since", Usage: "start after change `INDEX` (an earlier watch's last \"index\", with --output json) instead of now"},
		&cli.StringFlag{Name: "peer", Usage: "the peer `ID` --since belongs to; another peer answering makes the watch re-read the keys"},
	)
	return &cli.Command{
		Name:  "watch",
		Usage: "print every change of keys (local or replicated) as it happens, until Ctrl-C",
		Description: "Prints one line per change: \"put KEY VALUE\", \"del KEY\", \"expire KEY\", \"counter KEY VALUE\"\n" +
			"or \"set KEY MEMBER,MEMBER...\" (with --output json, one JSON object per line, with the change's \"index\").\n" +
			"The watch survives a lost connection, a daemon restart and a failover to another\n" +
			"--api endpoint: it resumes from the last change seen, or re-reads the keys when it\n" +
			"cannot (and prints what changed), saying so on standard error. At least once:\n" +
			"a change may print twice, but a key's last line is always its current state. A key or value\n" +
			"that is not printable text (or a key with a space) is printed Go-quoted: \"a\\nb\".\n\n" +
			"Examples:\n  grapevine watch --prefix user/\n  grapevine watch -o json --since 1042 --peer 12D3KooW...",
		Flags: flags,
		Action: clientAction("[--prefix P] [--since INDEX [--peer ID]]", 0, 0, func(c *cli.Context, ctx context.Context, cl *client.Client) error {
			w := c.App.Writer
			opts := client.WatchOptions{Prefix: c.String("prefix"), Since: c.Uint64("since"), Peer: c.String("peer"),
				OnRetry: func(err error) { fmt.Fprintf(c.App.ErrWriter, "grapevine watch: %v; resuming\n", err) }}
			asJSON, _ := jsonOutput(c)
			return cl.WatchWith(ctx, opts, func(ev apitype.Event) error {
				key := textField([]byte(ev.Key), " ")
				switch {
				case asJSON:
					return printJSONLine(w, ev)
				case ev.Type == "counter":
					_, err := fmt.Fprintf(w, "counter %s %d\n", key, ev.Counter)
					return err
				case ev.Type == "set":
					_, err := fmt.Fprintf(w, "set %s %s\n", key, joinMembers(ev.Members))
					return err
				case ev.Deleted:
					_, err := fmt.Fprintf(w, "del %s\n", key)
					return err
				case ev.Expired:
					_, err := fmt.Fprintf(w, "expire %s\n", key)
					return err
				}
				_, err := fmt.Fprintf(w, "put %s %s\n", key, textField(ev.Value, ""))
				return err
			})
		}),
	}
}

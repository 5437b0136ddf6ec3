package main

import (
	"context"
	"fmt"

	"github.com/grapevine-kv/grapevine/api/apitype"
	"github.com/grapevine-kv/grapevine/api/client"
	"github.com/urfave/cli/v2"
)

func watchCommand() *cli.Command {
	flags := append(clientFlags(), &cli.StringFlag{Name: "prefix", Usage: "only keys starting with `P`"})
	return &cli.Command{
		Name:  "watch",
		Usage: "print every change of keys (local or replicated) as it happens, until Ctrl-C",
		Description: "Prints one line per change: \"put KEY VALUE\", \"del KEY\", \"expire KEY\", \"counter KEY VALUE\"\n" +
			"or \"set KEY MEMBER,MEMBER...\" (with --output json, one JSON object per line).",
		Flags: flags,
		Action: clientAction("[--prefix P]", 0, 0, func(c *cli.Context, ctx context.Context, cl *client.Client) error {
			w := c.App.Writer
			err := cl.Watch(ctx, c.String("prefix"), func(ev apitype.Event) error {
				switch {
				case c.String("output") == "json":
					return printJSONLine(w, ev)
				case ev.Type == "counter":
					_, err := fmt.Fprintf(w, "counter %s %d\n", ev.Key, ev.Counter)
					return err
				case ev.Type == "set":
					_, err := fmt.Fprintf(w, "set %s %s\n", ev.Key, joinMembers(ev.Members))
					return err
				case ev.Deleted:
					_, err := fmt.Fprintf(w, "del %s\n", ev.Key)
					return err
				case ev.Expired:
					_, err := fmt.Fprintf(w, "expire %s\n", ev.Key)
					return err
				}
				_, err := fmt.Fprintf(w, "put %s %s\n", ev.Key, ev.Value)
				return err
			})
			if ctx.Err() != nil {
				return nil // Ctrl-C
			}
			if err == nil {
				return &exitError{code: 1, msg: "the daemon ended the watch (this watcher fell behind or the daemon stopped)"}
			}
			return err
		}),
	}
}

package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/grapevine-kv/grapevine/api/apitype"
	"github.com/grapevine-kv/grapevine/api/client"
	"github.com/urfave/cli/v2"
)

// setCommand is `grapevine set add|rm|members|has KEY [MEMBER...]`.
func setCommand() *cli.Command {
	members := func(c *cli.Context) [][]byte {
		var ms [][]byte
		for _, a := range c.Args().Slice()[1:] {
			ms = append(ms, []byte(a))
		}
		return ms
	}
	return &cli.Command{
		Name:  "set",
		Usage: "add-wins sets: add, rm, members, has", ArgsUsage: "add|rm|members|has KEY [MEMBER...]",
		Description: "A set keeps the members added and not removed. A remove takes out the adds this\n" +
			"peer has seen; an add made concurrently on another peer wins over it.\n\n" +
			"Examples:\n  grapevine set add tags/42 red green\n  grapevine set members tags/42",
		Subcommands: []*cli.Command{
			{
				Name: "add", Usage: "add MEMBERs to the set KEY", ArgsUsage: "KEY MEMBER...", Flags: clientFlags(withNS, withTimeout),
				Description: "Example:\n  grapevine set add tags/42 red green",
				Action: clientAction("add KEY MEMBER...", 2, 1<<20, func(c *cli.Context, ctx context.Context, cl *client.Client) error {
					return cl.SetAdd(ctx, c.Args().First(), members(c)...)
				}),
			},
			{
				Name: "rm", Usage: "remove MEMBERs from the set KEY", ArgsUsage: "KEY MEMBER...", Flags: clientFlags(withNS, withTimeout),
				Description: "Example:\n  grapevine set rm tags/42 green",
				Action: clientAction("rm KEY MEMBER...", 2, 1<<20, func(c *cli.Context, ctx context.Context, cl *client.Client) error {
					return cl.SetRemove(ctx, c.Args().First(), members(c)...)
				}),
			},
			{
				Name: "members", Usage: "print the members of the set KEY, one per line, in byte order", ArgsUsage: "KEY", Flags: clientFlags(withNS, withOutput, withTimeout, withBalance),
				Description: "A member that is not printable text is printed Go-quoted; -o json gives the exact bytes.\n\n" +
					"Examples:\n  grapevine set members tags/42\n  grapevine set members tags/42 -o json",
				Action: clientAction("members KEY", 1, 1, func(c *cli.Context, ctx context.Context, cl *client.Client) error {
					key := c.Args().First()
					ms, err := cl.SetMembers(ctx, key)
					if err != nil {
						return err
					}
					if asJSON, _ := jsonOutput(c); asJSON {
						return printJSON(c.App.Writer, apitype.Set{Key: key, Members: append([][]byte{}, ms...)})
					}
					for _, m := range ms {
						fmt.Fprintln(c.App.Writer, textField(m, ""))
					}
					return nil
				}),
			},
			{
				Name: "has", Usage: "print whether MEMBER is in the set KEY (exit status 3 if not)", ArgsUsage: "KEY MEMBER", Flags: clientFlags(withNS, withOutput, withTimeout, withBalance),
				Description: "Example:\n  grapevine set has tags/42 red && echo tagged",
				Action: clientAction("has KEY MEMBER", 2, 2, func(c *cli.Context, ctx context.Context, cl *client.Client) error {
					key, m := c.Args().Get(0), c.Args().Get(1)
					ok, err := cl.SetContains(ctx, key, []byte(m))
					if err != nil {
						return err
					}
					if asJSON, _ := jsonOutput(c); asJSON {
						if err := printJSON(c.App.Writer, apitype.SetContains{Key: key, Member: []byte(m), Contains: ok}); err != nil {
							return err
						}
					} else {
						fmt.Fprintln(c.App.Writer, ok)
					}
					if !ok {
						return &exitError{code: codeNotFound}
					}
					return nil
				}),
			},
		},
	}
}

// lsLine is one line of `ls` text output: key, type and the value (a
// counter's number, a set's members comma-separated), each field quoted
// when it would break the line (textField).
func lsLine(e apitype.Entry) string {
	key := textField([]byte(e.Key), "\t")
	switch e.Type {
	case "counter":
		var v int64
		if e.Counter != nil {
			v = *e.Counter
		}
		return fmt.Sprintf("%s\tcounter\t%d", key, v)
	case "set":
		return fmt.Sprintf("%s\tset\t%s", key, joinMembers(e.Members))
	}
	return fmt.Sprintf("%s\tregister\t%s", key, textField(e.Value, "\t"))
}

// joinMembers joins set members with commas, for text output, quoting a
// member that holds a comma or a tab or is not printable.
func joinMembers(ms [][]byte) string {
	fields := make([]string, len(ms))
	for i, m := range ms {
		fields[i] = textField(m, ",\t")
	}
	return strings.Join(fields, ",")
}

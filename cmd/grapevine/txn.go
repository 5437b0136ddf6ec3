package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/grapevine-kv/grapevine/api/apitype"
	"github.com/grapevine-kv/grapevine/api/client"
	"github.com/urfave/cli/v2"
)

func txnCommand() *cli.Command {
	return &cli.Command{
		Name:      "txn",
		Usage:     "apply ops all or nothing, read as JSON from FILE or standard input",
		ArgsUsage: "[FILE]",
		Description: "The JSON is the body of POST /v1/txn:\n" +
			`  {"ops": [{"op": "put", "key": "a", "value": "<base64>"}, {"op": "del", "key": "b"}, {"op": "incr", "key": "c", "by": 2}]}` + "\n" +
			`A put may have "ttl": "30s"; a put or del "if_version": N or "if_absent": true.` + "\n" +
			"Prints one line per op: \"put KEY VERSION\", \"del KEY VERSION\" or \"incr KEY VALUE\".\n" +
			"Never sent to a second --api endpoint once the first may have received it (it may hold an incr).\n\n" +
			"Examples:\n  grapevine txn ops.json\n  echo '{\"ops\": [{\"op\": \"del\", \"key\": \"a\"}]}' | grapevine txn -o json",
		Flags: clientFlags(withNS, withOutput, withTimeout),
		Action: clientAction("[FILE]", 0, 1, func(c *cli.Context, ctx context.Context, cl *client.Client) error {
			var in io.Reader = c.App.Reader
			name := "standard input"
			if f := c.Args().Get(0); f != "" && f != "-" {
				file, err := os.Open(f)
				if err != nil {
					return &exitError{code: 1, msg: fmt.Sprintf("reading the transaction: %v", err)}
				}
				defer file.Close()
				in, name = file, f
			}
			var req apitype.TxnRequest
			dec := json.NewDecoder(in)
			dec.DisallowUnknownFields()
			if err := dec.Decode(&req); err != nil {
				return &exitError{code: 2, msg: fmt.Sprintf(`%s is not a transaction: %v; want {"ops": [{"op": "put", "key": "a", "value": "<base64>"}, ...]}`, name, err)}
			}
			res, err := cl.Txn(ctx, req.Ops)
			if err != nil {
				return preconditionError(err)
			}
			if asJSON, _ := jsonOutput(c); asJSON {
				return printJSON(c.App.Writer, apitype.TxnResponse{Results: res})
			}
			for _, r := range res {
				if r.Counter != nil {
					fmt.Fprintf(c.App.Writer, "%s %s %d\n", r.Op, r.Key, *r.Counter)
				} else {
					fmt.Fprintf(c.App.Writer, "%s %s %d\n", r.Op, r.Key, r.Version)
				}
			}
			return nil
		}),
	}
}

package main

import (
	"fmt"

	"github.com/grapevine-kv/grapevine/api/client"
	"github.com/urfave/cli/v2"
)

// clientFlag selects the optional flags of a command that talks to a
// daemon; --api, --data, --token and --cacert it always takes.
type clientFlag uint8

const (
	withNS      clientFlag = 1 << iota // --ns: the command reads or writes keys of one namespace
	withOutput                         // -o/--output: the command prints something
	withTimeout                        // --timeout: one request at a time, each bounded
	withBalance                        // --balance: the command only reads keys
)

// clientFlags are the flags of a command that talks to a daemon: the
// connection flags, and those of which it takes.
func clientFlags(which ...clientFlag) []cli.Flag {
	var w clientFlag
	for _, f := range which {
		w |= f
	}
	flags := []cli.Flag{
		&cli.StringFlag{Name: "api", EnvVars: []string{"GRAPEVINE_API"}, Usage: "daemon HTTP address(es), `HOST:PORT[,HOST:PORT...]` (or https://HOST:PORT): failed over in turn; default: the address a daemon on --data wrote"},
		&cli.StringFlag{Name: "data", EnvVars: []string{"GRAPEVINE_DATA"}, Value: defaultDataDir(), Usage: "data `DIR`ectory of a local daemon, to find its API address"},
		&cli.StringFlag{Name: "token", EnvVars: []string{"GRAPEVINE_TOKEN"}, Usage: "API `TOKEN` for a daemon started with --api-token-file (prefer the env var: a flag shows in ps)"},
		&cli.StringFlag{Name: "cacert", EnvVars: []string{"GRAPEVINE_CACERT"}, Usage: "PEM `FILE` of the CA (or self-signed certificate) to trust for an https:// API"},
	}
	if w&withNS != 0 {
		flags = append(flags, &cli.StringFlag{Name: "ns", EnvVars: []string{"GRAPEVINE_NS"}, Usage: "`NAMESPACE` of the keys (default \"default\")"})
	}
	if w&withOutput != 0 {
		flags = append(flags, outputFlag())
	}
	if w&withTimeout != 0 {
		flags = append(flags, &cli.DurationFlag{Name: "timeout", EnvVars: []string{"GRAPEVINE_TIMEOUT"}, Value: client.DefaultTimeout,
			Usage: "give up on an endpoint that has not answered within `DURATION` and try the next --api one (reads, put and del only: an incr or a --cas write may have been applied)"})
	}
	if w&withBalance != 0 {
		flags = append(flags, &cli.BoolFlag{Name: "balance", EnvVars: []string{"GRAPEVINE_BALANCE"},
			Usage: "spread reads round-robin over the --api endpoints (a peer may not have replicated the latest write yet)"})
	}
	return flags
}

// outputFlag is -o/--output.
func outputFlag() cli.Flag {
	return &cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "text", Usage: "output `FORMAT`: text or json"}
}

// jsonOutput reports whether -o json was asked for; any other format but
// text is a usage error.
func jsonOutput(c *cli.Context) (bool, error) {
	switch o := c.String("output"); o {
	case "json":
		return true, nil
	case "text", "":
		return false, nil
	default:
		return false, &exitError{code: codeUsage, msg: fmt.Sprintf("--output must be text or json, not %q", o)}
	}
}

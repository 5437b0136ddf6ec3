package main

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/grapevine-kv/grapevine/api/apitype"
	"github.com/grapevine-kv/grapevine/api/client"
	"github.com/urfave/cli/v2"
)

// writeFlags are put's (put true) or del's condition and TTL flags.
func writeFlags(put bool) []cli.Flag {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "cas", Usage: "only if the key is at `VERSION` (as printed by get -o json or put -o json); 0: only if absent"},
	}
	if put {
		flags = append(flags,
			&cli.BoolFlag{Name: "if-absent", Usage: "only if the key is absent (never written, deleted or expired)"},
			&cli.DurationFlag{Name: "ttl", Usage: "the value expires after `DURATION` (e.g. 30s, 5m); default: never"},
		)
	}
	return flags
}

// writeOptions reads the flags of writeFlags.
func writeOptions(c *cli.Context) (client.WriteOptions, error) {
	var o client.WriteOptions
	if s := c.String("cas"); c.IsSet("cas") {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return o, &exitError{code: 2, msg: fmt.Sprintf("--cas takes a version (a whole number; 0 for only if absent), got %q", s)}
		}
		o.IfVersion, o.IfAbsent = v, v == 0
	}
	if c.Bool("if-absent") {
		if c.IsSet("cas") {
			return o, &exitError{code: 2, msg: "give one condition: --cas VERSION or --if-absent"}
		}
		o.IfAbsent = true
	}
	if c.IsSet("ttl") {
		if o.TTL = c.Duration("ttl"); o.TTL <= 0 {
			return o, &exitError{code: 2, msg: fmt.Sprintf("--ttl takes a positive duration such as 30s, got %s", o.TTL)}
		}
	}
	return o, nil
}

// preconditionError is the message of a refused conditional write.
func preconditionError(err error) error {
	var e *apitype.Error
	if !errors.Is(err, apitype.ErrPrecondition) || !errors.As(err, &e) {
		return err
	}
	return &exitError{code: 1, msg: "precondition failed: " + e.Message}
}

package main

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/grapevine-kv/grapevine/node"
	"github.com/grapevine-kv/grapevine/storage"
	"github.com/urfave/cli/v2"
)

// onDamageFlag chooses what the daemon does with a damaged database.
var onDamageFlag = &cli.StringFlag{Name: "on-damage", EnvVars: []string{"GRAPEVINE_ON_DAMAGE"}, Value: "refuse",
	Usage: "when the database is found damaged at start (a table file lost in a power loss, a checksum mismatch): `refuse` to start and change nothing, " +
		"or quarantine: move it aside under <data>/quarantine/ (kept, never deleted) and start empty, resyncing from peers (writes not yet replicated from this peer are lost)"}

// onDamage reads --on-damage: whether to quarantine a damaged database.
func onDamage(c *cli.Context) (bool, error) {
	switch v := c.String(onDamageFlag.Name); v {
	case "refuse":
		return false, nil
	case "quarantine":
		return true, nil
	default:
		return false, &exitError{code: codeUsage, msg: fmt.Sprintf("--on-damage must be refuse or quarantine, not %q", v)}
	}
}

// damageRefused is the daemon's answer to a damaged database without
// --on-damage quarantine: what is damaged, that nothing changed, what
// recovering costs, and the command that recovers.
func damageRefused(err error, dataDir string) error {
	cause := storage.DamageCause(err)
	return &exitError{code: codeError, msg: fmt.Sprintf(
		"the database in %s is damaged and cannot be opened: %s\n"+
			"Nothing was changed. This happens after a power loss on a filesystem that does not keep a new file's name\n"+
			"without a directory fsync, or when the disk corrupted data (see \"Power loss and a damaged database\" in the README).\n"+
			"To recover, start the peer once with --on-damage quarantine: it moves the damaged directory to\n"+
			"%s/<UTC time>/ (kept, never deleted), starts with an empty database and fills it from its\n"+
			"peers; writes that only this peer had acknowledged and not yet replicated are lost:\n"+
			"  %s",
		node.DatabaseDir(dataDir), cause, node.QuarantineRoot(dataDir), recoverCommand(os.Args))}
}

// recoverCommand is args (this daemon's command line) with --on-damage
// quarantine added after the daemon command, quoted for a POSIX shell.
func recoverCommand(args []string) string {
	i := slices.Index(args, "daemon")
	if i < 0 {
		return "grapevine daemon --on-damage quarantine"
	}
	out := slices.Concat(args[:i+1], []string{"--on-damage", "quarantine"})
	for j := i + 1; j < len(args); j++ {
		switch a := args[j]; {
		case a == "--on-damage" || a == "-on-damage":
			j++ // and its value
		case strings.HasPrefix(a, "--on-damage=") || strings.HasPrefix(a, "-on-damage="):
		default:
			out = append(out, a)
		}
	}
	for j, a := range out {
		out[j] = shellQuote(a)
	}
	return strings.Join(out, " ")
}

// shellQuote quotes s for a POSIX shell if it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=,@+%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

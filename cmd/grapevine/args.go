package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
)

// reorderArgs lets flags go anywhere on the command line, as people expect
// (`grapevine -o json get k`, `grapevine get k -o json`): urfave/cli stops
// reading flags at a command's first argument, so this moves every flag,
// with its value, right after the command's name (and subcommand's:
// `set add`), and the arguments after them, behind a "--" when one of them
// starts with '-'. A "--" on the command line ends the flags as usual.
//
// A flag the command does not take is a usage error naming the command;
// so is a flag before a command that has none. Argument lists without a
// command (`grapevine --help`, `grapevine help put`) are returned as they
// are.
func reorderArgs(cmds []*cli.Command, args []string) ([]string, error) {
	if len(args) < 2 {
		return args, nil
	}
	var (
		path       []string
		cmd        *cli.Command
		sub        = cmds
		flags, pos []string
		dashdash   bool
	)
	rest := args[1:]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		switch {
		case a == "--":
			pos, dashdash = append(pos, rest[i+1:]...), true
			i = len(rest)
		case isFlagToken(cmd, a):
			flags = append(flags, a)
			if !strings.Contains(a, "=") && takesValue(cmd, cmds, flagName(a)) && i+1 < len(rest) {
				flags = append(flags, rest[i+1])
				i++
			}
		default:
			if len(pos) == 0 {
				if c := findCommand(sub, a); c != nil {
					path, cmd, sub = append(path, a), c, c.Subcommands
					continue
				}
			}
			pos = append(pos, a)
		}
	}
	if cmd == nil || cmd.Name == "help" {
		return args, nil
	}
	for i := 0; i < len(flags); i++ {
		name := flagName(flags[i])
		f := lookupFlag(cmd, name)
		if f == nil && name != "h" && name != "help" {
			return nil, &exitError{code: codeUsage, msg: fmt.Sprintf("grapevine %s takes no flag %s; see grapevine %s --help", strings.Join(path, " "), flags[i], strings.Join(path, " "))}
		}
		if f != nil && !strings.Contains(flags[i], "=") && takesValue(cmd, cmds, name) {
			i++ // its value
		}
	}
	out := append([]string{args[0]}, path...)
	out = append(out, flags...)
	if dashdash || slices.ContainsFunc(pos, func(p string) bool { return strings.HasPrefix(p, "-") && p != "-" }) {
		out = append(out, "--")
	}
	return append(out, pos...), nil
}

// isFlagToken reports whether a is a flag: it starts with '-' and is not
// "-" (standard input) nor a negative number the command has no flag for
// (`incr k -5`).
func isFlagToken(cmd *cli.Command, a string) bool {
	if len(a) < 2 || a[0] != '-' {
		return false
	}
	if _, err := strconv.ParseFloat(a, 64); err == nil {
		return cmd != nil && lookupFlag(cmd, flagName(a)) != nil
	}
	return true
}

// flagName is the name in a flag token: "o" in "-o", "ns" in "--ns=x".
func flagName(a string) string {
	name := strings.TrimLeft(a, "-")
	name, _, _ = strings.Cut(name, "=")
	return name
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if slices.Contains(c.Names(), name) {
			return c
		}
	}
	return nil
}

func lookupFlag(cmd *cli.Command, name string) cli.Flag {
	for _, f := range cmd.Flags {
		if slices.Contains(f.Names(), name) {
			return f
		}
	}
	return nil
}

// takesValue reports whether flag name takes a value: as cmd defines it,
// or, when it does not (before the command or subcommand is known), as
// any command of cmds does.
func takesValue(cmd *cli.Command, cmds []*cli.Command, name string) bool {
	if cmd != nil {
		if f := lookupFlag(cmd, name); f != nil {
			return flagTakesValue(f)
		}
	}
	for _, c := range cmds {
		if f := lookupFlag(c, name); f != nil {
			return flagTakesValue(f)
		}
		if takesValue(nil, c.Subcommands, name) {
			return true
		}
	}
	return false
}

func flagTakesValue(f cli.Flag) bool {
	dg, ok := f.(cli.DocGenerationFlag)
	return ok && dg.TakesValue()
}

package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"
)

// Exit codes, documented in `grapevine --help` and the README.
const (
	codeOK       = 0 // success
	codeError    = 1 // the command failed: a daemon unreachable or refusing, a failed condition
	codeUsage    = 2 // the command line is wrong: unknown command or flag, bad argument
	codeNotFound = 3 // what was asked for does not exist: a key, a set member
)

// exitError carries an exit code with a message for stderr.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func defaultDataDir() string {
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".grapevine")
	}
	return ".grapevine"
}

// appDescription is the top of `grapevine --help`.
const appDescription = "Start a peer with `grapevine daemon`; then read and write keys with put, get, del, ls\n" +
	"and incr against it (or any peer: --api HOST:PORT). Every peer accepts writes; all converge.\n\n" +
	"Flags go before or after a command's arguments, and the client flags (--api, --data, --ns,\n" +
	"-o/--output, --timeout, --token) also before the command: grapevine -o json get greeting.\n" +
	"`grapevine COMMAND --help` shows a command's flags and an example.\n\n" +
	"Exit status: 0 ok, 1 error (e.g. no daemon reachable), 2 usage (a bad command line),\n" +
	"3 not found (get of an absent key, set has of a missing member)."

// commands returns the command tree.
func commands() []*cli.Command {
	return []*cli.Command{
		daemonCommand(), keygenCommand(),
		putCommand(), getCommand(), delCommand(), lsCommand(), incrCommand(), setCommand(),
		txnCommand(), exportCommand(), importCommand(), backupCommand(), restoreCommand(),
		peersCommand(), statusCommand(), idCommand(), syncCommand(), watchCommand(),
		rekeyCommand(), configCommand(), benchCommand(), versionCommand(), completionCommand(),
	}
}

// run is the whole program: it returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	app := &cli.App{
		Name:        "grapevine",
		Usage:       "a leaderless peer-to-peer replicated key-value store",
		Version:     versionString(),
		Reader:      stdin,
		Writer:      stdout,
		ErrWriter:   stderr,
		Description: appDescription,
		Commands:    commands(),
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return cli.ShowAppHelp(c)
			}
			return &exitError{code: codeUsage, msg: fmt.Sprintf("unknown command %q; see grapevine --help", c.Args().First())}
		},
		OnUsageError:   usageError,
		ExitErrHandler: func(*cli.Context, error) {}, // run reports errors itself
	}
	prepare(app.Commands, "grapevine")
	args, err := reorderArgs(app.Commands, args)
	if err == nil {
		err = app.Run(args)
	}
	if err == nil {
		return codeOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(stderr, "grapevine:", ee.msg)
		}
		return ee.code
	}
	// Only urfave/cli's own errors get here (an action's are exitErrors):
	// a bad flag value, a missing required flag, an unknown help topic.
	fmt.Fprintln(stderr, "grapevine:", err)
	return codeUsage
}

// prepare makes every command of the tree report errors as run expects:
// a usage error exits 2, an action's error that is not an exitError
// exits 1, and a command with subcommands refuses an unknown one.
func prepare(cmds []*cli.Command, parent string) {
	for _, cmd := range cmds {
		name := parent + " " + cmd.Name
		cmd.OnUsageError = usageError
		if len(cmd.Subcommands) > 0 && cmd.Action == nil {
			cmd.Action = func(c *cli.Context) error {
				if c.NArg() == 0 {
					_ = cli.ShowSubcommandHelp(c)
					return &exitError{code: codeUsage}
				}
				return &exitError{code: codeUsage, msg: fmt.Sprintf("%s has no subcommand %q; see %s --help", name, c.Args().First(), name)}
			}
		} else if action := cmd.Action; action != nil {
			cmd.Action = func(c *cli.Context) error {
				err := action(c)
				var ee *exitError
				if err != nil && !errors.As(err, &ee) {
					return &exitError{code: codeError, msg: err.Error()}
				}
				return err
			}
		}
		prepare(cmd.Subcommands, name)
	}
}

// usageError is every command's OnUsageError: a bad flag or flag value.
func usageError(c *cli.Context, err error, _ bool) error {
	name := c.Command.FullName()
	if name == "" {
		return &exitError{code: codeUsage, msg: fmt.Sprintf("%v; see grapevine --help", err)}
	}
	return &exitError{code: codeUsage, msg: fmt.Sprintf("%s: %v; see grapevine %s --help", name, err, name)}
}

package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"
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

// run is the whole program: it returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	app := &cli.App{
		Name:                 "grapevine",
		Usage:                "a leaderless peer-to-peer replicated key-value store",
		Version:              versionString(),
		Reader:               stdin,
		Writer:               stdout,
		ErrWriter:            stderr,
		EnableBashCompletion: true,
		Description: "Start a peer with `grapevine daemon`; then read and write keys with put, get, del, ls\n" +
			"and incr against it (or any peer: --api HOST:PORT). Every peer accepts writes; all converge.",
		Commands: []*cli.Command{
			daemonCommand(), keygenCommand(),
			putCommand(), getCommand(), delCommand(), lsCommand(), incrCommand(), setCommand(),
			txnCommand(), exportCommand(), importCommand(), backupCommand(), restoreCommand(),
			peersCommand(), statusCommand(), idCommand(), syncCommand(), watchCommand(),
			rekeyCommand(), configCommand(), versionCommand(),
		},
		ExitErrHandler: func(*cli.Context, error) {}, // run reports errors itself
	}
	err := app.Run(args)
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(stderr, "grapevine:", ee.msg)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "grapevine:", err)
	return 1
}

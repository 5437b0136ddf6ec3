package resp

import (
	"context"
	"sort"

	"github.com/tidwall/redcon"
)

// command is one command the server knows.
type command struct {
	name string
	// arity is Redis's: the number of arguments counting the command's
	// name, or -N for at least N.
	arity  int
	access access
	// single: the command touches only the key in its first argument and
	// nothing of the session, so a pipeline may run it concurrently with
	// commands on other keys (pipeline.go).
	single bool
	run    func(ctx context.Context, s *session, w *redcon.Writer, args [][]byte)
}

// arityOK reports whether n arguments (with the name) fit c's arity.
func (c *command) arityOK(n int) bool {
	if c.arity < 0 {
		return n >= -c.arity
	}
	return n == c.arity
}

// commands is every command, by lower-case name (set in init: some
// commands list the table).
var commands map[string]*command

func init() {
	list := []*command{
		// Connection (conn.go).
		{name: "ping", arity: -1, access: accessConn, run: cmdPing},
		{name: "echo", arity: 2, access: accessConn, run: cmdEcho},
		{name: "quit", arity: -1, access: accessPublic, run: cmdQuit},
		{name: "hello", arity: -1, access: accessPublic, run: cmdHello},
		{name: "auth", arity: -2, access: accessPublic, run: cmdAuth},
		{name: "select", arity: 2, access: accessConn, run: cmdSelect},
		{name: "ns", arity: -1, access: accessConn, run: cmdNS},
		{name: "client", arity: -2, access: accessConn, run: cmdClient},
		// Server (server_cmds.go).
		{name: "command", arity: -1, access: accessConn, run: cmdCommand},
		{name: "info", arity: -1, access: accessConn, run: cmdInfo},
		{name: "config", arity: -2, access: accessConn, run: cmdConfig},
		// Strings and counters (strings.go).
		{name: "get", arity: 2, access: accessRead, single: true, run: cmdGet},
		{name: "set", arity: -3, access: accessWrite, single: true, run: cmdSet},
		{name: "del", arity: -2, access: accessWrite, run: cmdDel},
		{name: "exists", arity: -2, access: accessRead, run: cmdExists},
		{name: "mget", arity: -2, access: accessRead, run: cmdMGet},
		{name: "mset", arity: -3, access: accessWrite, run: cmdMSet},
		{name: "incr", arity: 2, access: accessWrite, single: true, run: cmdIncr},
		{name: "incrby", arity: 3, access: accessWrite, single: true, run: cmdIncrBy},
		{name: "decr", arity: 2, access: accessWrite, single: true, run: cmdDecr},
		{name: "decrby", arity: 3, access: accessWrite, single: true, run: cmdDecrBy},
		{name: "scan", arity: -2, access: accessRead, run: cmdScan},
		// Sets (sets.go).
		{name: "sadd", arity: -3, access: accessWrite, single: true, run: cmdSAdd},
		{name: "srem", arity: -3, access: accessWrite, single: true, run: cmdSRem},
		{name: "smembers", arity: 2, access: accessRead, single: true, run: cmdSMembers},
		{name: "sismember", arity: 3, access: accessRead, single: true, run: cmdSIsMember},
	}
	commands = make(map[string]*command, len(list))
	for _, c := range list {
		commands[c.name] = c
	}
}

// commandNames returns the commands' names, sorted.
func commandNames() []string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

package resp

import (
	"bytes"
	"context"
	"strings"
	"sync"

	"github.com/tidwall/redcon"
)

// maxRun bounds how many commands of a pipeline run at once.
const maxRun = 512

// pipeline answers cmds, read together from c, in order. Consecutive
// commands that each touch one key (command.single) run concurrently
// while their keys differ: their writes then reach the node's apply loop
// together and are committed as one batch, one fsync. Any other command,
// or a key already in the run, waits for the run before it. Commands on
// different keys commute, so the replies are those of running them one
// after the other.
func (s *session) pipeline(ctx context.Context, c redcon.Conn, cmds []redcon.Command) {
	w := redcon.BaseWriter(c)
	for i := 0; i < len(cmds) && !s.quit; {
		n := runLength(cmds[i:])
		if n == 1 {
			s.exec(ctx, w, cmds[i].Args)
		} else {
			s.concurrently(ctx, w, cmds[i:i+n])
		}
		i += n
	}
	if s.quit {
		_ = c.Close() // flushes the replies, QUIT's +OK last
	}
}

// runLength returns how many commands from cmds[0] on may run
// concurrently: at least 1.
func runLength(cmds []redcon.Command) int {
	seen := make(map[string]bool)
	for i, cmd := range cmds {
		key, ok := singleKey(cmd.Args)
		if !ok || seen[key] || i == maxRun {
			return max(i, 1)
		}
		seen[key] = true
	}
	return len(cmds)
}

// singleKey returns the key of a command that touches only that key and
// nothing of the session.
func singleKey(args [][]byte) (string, bool) {
	if len(args) < 2 {
		return "", false
	}
	cmd, ok := commands[strings.ToLower(string(args[0]))]
	if !ok || !cmd.single || !cmd.arityOK(len(args)) {
		return "", false
	}
	return string(args[1]), true
}

// concurrently runs cmds at once, each writing its reply to its own
// buffer, and writes the replies to w in order.
func (s *session) concurrently(ctx context.Context, w *redcon.Writer, cmds []redcon.Command) {
	bufs := make([]bytes.Buffer, len(cmds))
	var wg sync.WaitGroup
	for i, cmd := range cmds {
		wg.Go(func() {
			out := redcon.NewWriter(&bufs[i])
			s.exec(ctx, out, cmd.Args)
			_ = out.Flush() // into a bytes.Buffer: never fails
		})
	}
	wg.Wait()
	for i := range bufs {
		w.WriteRaw(bufs[i].Bytes())
	}
}

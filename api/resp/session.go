package resp

import (
	"context"
	"fmt"
	"strings"

	"github.com/tidwall/redcon"
)

// session is the state of one connection. Its fields change only in
// commands that run alone (AUTH, HELLO, SELECT, NS, CLIENT), never while
// a pipeline's commands run concurrently.
type session struct {
	srv    *Server
	id     int64
	remote string
	ns     string // the current namespace (SELECT, NS)
	token  string // the token of the last successful AUTH; "" for none
	name   string // CLIENT SETNAME
	quit   bool   // QUIT was answered: close the connection
}

// access is what a command needs of the connection's token.
type access uint8

const (
	accessPublic access = iota // nothing: AUTH, HELLO, QUIT
	accessConn                 // any valid token: PING, INFO, SELECT, ...
	accessRead                 // a token that may read the current namespace
	accessWrite                // a token that may write the current namespace
)

// allowed checks the session's token against what a command needs and
// returns the refusal to answer, or "" if the command may run. The token
// is looked up at every command, so a token dropped by a reload of the
// token file stops working at once.
func (s *session) allowed(cmd *command) string {
	tokens := s.srv.cfg.Tokens
	if tokens == nil || cmd.access == accessPublic {
		return ""
	}
	if s.token == "" {
		return s.refuse("NOAUTH", cmd.name, "NOAUTH Authentication required: this server needs an API token, send AUTH <token> first")
	}
	g, ok := tokens.Grant(s.token)
	if !ok {
		return s.refuse("NOAUTH", cmd.name, "NOAUTH the API token is no longer valid on this daemon; AUTH again with a valid one")
	}
	switch {
	case cmd.access == accessRead && !g.CanRead(s.ns):
		return s.refuse("NOPERM", cmd.name, fmt.Sprintf("NOPERM this token may not read namespace %q", s.ns))
	case cmd.access == accessWrite && !g.CanWrite(s.ns):
		return s.refuse("NOPERM", cmd.name, fmt.Sprintf("NOPERM this token may not write namespace %q", s.ns))
	}
	return ""
}

// refuse counts and logs a refusal (never with the token) and returns msg.
func (s *session) refuse(code, cmd, msg string) string {
	s.srv.refusals.WithLabelValues(code).Inc()
	s.srv.log.Warn("RESP command refused", "remote", s.remote, "command", cmd, "namespace", s.ns, "code", code)
	return msg
}

// exec runs one command and writes its reply to w.
func (s *session) exec(ctx context.Context, w *redcon.Writer, args [][]byte) {
	name := strings.ToLower(string(args[0]))
	cmd, ok := commands[name]
	if !ok {
		w.WriteError(unknownCommand(args))
		return
	}
	if !cmd.arityOK(len(args)) {
		w.WriteError(fmt.Sprintf("ERR wrong number of arguments for '%s' command", name))
		return
	}
	if msg := s.allowed(cmd); msg != "" {
		w.WriteError(msg)
		return
	}
	cmd.run(ctx, s, w, args)
}

// unknownCommand is Redis's answer to a command it does not know.
func unknownCommand(args [][]byte) string {
	var b strings.Builder
	fmt.Fprintf(&b, "ERR unknown command '%s', with args beginning with: ", clip(args[0]))
	for _, a := range args[1:] {
		fmt.Fprintf(&b, "'%s' ", clip(a))
	}
	return b.String()
}

// clip shortens a client's word for an error message, as Redis does.
func clip(b []byte) string {
	const max = 128
	s := string(b)
	if len(s) > max {
		s = s[:max] + "..."
	}
	return strings.Map(func(r rune) rune {
		if r < ' ' {
			return ' '
		}
		return r
	}, s)
}

package resp

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/grapevine-kv/grapevine/storage"
	"github.com/tidwall/redcon"
)

// Connection commands: PING ECHO QUIT HELLO AUTH SELECT NS CLIENT.

func cmdPing(_ context.Context, _ *session, w *redcon.Writer, args [][]byte) {
	switch len(args) {
	case 1:
		w.WriteString("PONG")
	case 2:
		w.WriteBulk(args[1])
	default:
		w.WriteError("ERR wrong number of arguments for 'ping' command")
	}
}

func cmdEcho(_ context.Context, _ *session, w *redcon.Writer, args [][]byte) {
	w.WriteBulk(args[1])
}

func cmdQuit(_ context.Context, s *session, w *redcon.Writer, _ [][]byte) {
	w.WriteString("OK")
	s.quit = true
}

const (
	errNoPassword = "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"
	errWrongPass  = "WRONGPASS invalid username-password pair or user is disabled."
)

func cmdAuth(_ context.Context, s *session, w *redcon.Writer, args [][]byte) {
	switch len(args) {
	case 2:
		writeErrorOrOK(w, s.auth("default", string(args[1])))
	case 3:
		writeErrorOrOK(w, s.auth(string(args[1]), string(args[2])))
	default:
		w.WriteError("ERR syntax error")
		return
	}
}

// auth checks token (the user must be "default", Redis's only user) and
// returns the error to answer, or "" (and the caller answers +OK).
func (s *session) auth(user, token string) string {
	tokens := s.srv.cfg.Tokens
	if tokens == nil {
		return errNoPassword
	}
	if _, ok := tokens.Grant(token); !ok || user != "default" {
		return s.refuse("WRONGPASS", "auth", errWrongPass)
	}
	s.token = token
	return ""
}

// writeErrorOrOK answers +OK for an empty msg, else the error msg.
func writeErrorOrOK(w *redcon.Writer, msg string) {
	if msg == "" {
		w.WriteString("OK")
		return
	}
	w.WriteError(msg)
}

// HELLO [protover [AUTH user pass] [SETNAME name]]: protocol 2 only.
func cmdHello(_ context.Context, s *session, w *redcon.Writer, args [][]byte) {
	if len(args) > 1 {
		v, err := strconv.Atoi(string(args[1]))
		if err != nil {
			w.WriteError("ERR Protocol version is not an integer or out of range")
			return
		}
		if v != 2 {
			w.WriteError("NOPROTO sorry, this protocol version is not supported: grapevine speaks RESP2 only")
			return
		}
	}
	var name string
	var setName bool
	for i := 2; i < len(args); i++ {
		opt := strings.ToLower(string(args[i]))
		switch {
		case opt == "auth" && i+2 < len(args):
			if msg := s.auth(string(args[i+1]), string(args[i+2])); msg != "" {
				w.WriteError(msg)
				return
			}
			i += 2
		case opt == "setname" && i+1 < len(args):
			name, setName = string(args[i+1]), true
			i++
		default:
			w.WriteError(fmt.Sprintf("ERR Syntax error in HELLO option '%s'", clip(args[i])))
			return
		}
	}
	if s.srv.cfg.Tokens != nil && s.token == "" {
		w.WriteError(s.refuse("NOAUTH", "hello", "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"))
		return
	}
	if setName {
		s.name = name
	}
	w.WriteArray(14)
	w.WriteBulkString("server")
	w.WriteBulkString("grapevine")
	w.WriteBulkString("version")
	w.WriteBulkString(s.srv.cfg.Version)
	w.WriteBulkString("proto")
	w.WriteInt(2)
	w.WriteBulkString("id")
	w.WriteInt64(s.id)
	w.WriteBulkString("mode")
	w.WriteBulkString("standalone")
	w.WriteBulkString("role")
	w.WriteBulkString("master")
	w.WriteBulkString("modules")
	w.WriteArray(0)
}

func cmdSelect(_ context.Context, s *session, w *redcon.Writer, args [][]byte) {
	i, err := strconv.Atoi(string(args[1]))
	if err != nil {
		w.WriteError(errNotInteger)
		return
	}
	if i < 0 || i >= len(s.srv.cfg.Databases) {
		w.WriteError(fmt.Sprintf("ERR DB index is out of range: this server has %d databases (--resp-databases); NS <name> reaches any namespace", len(s.srv.cfg.Databases)))
		return
	}
	s.ns = s.srv.cfg.Databases[i]
	w.WriteString("OK")
}

// NS answers the current namespace; NS name makes name current.
func cmdNS(_ context.Context, s *session, w *redcon.Writer, args [][]byte) {
	switch len(args) {
	case 1:
		w.WriteBulkString(s.ns)
	case 2:
		ns := string(args[1])
		if err := validNamespace(ns); err != nil {
			w.WriteError("ERR " + err.Error())
			return
		}
		s.ns = ns
		w.WriteString("OK")
	default:
		w.WriteError("ERR wrong number of arguments for 'ns' command")
	}
}

// validNamespace checks a namespace name by the storage's rule.
func validNamespace(ns string) error {
	if storage.ValidNamespace(ns) != nil {
		return fmt.Errorf("invalid namespace %q: use 1 to 64 of a-z 0-9 . _ -", clip([]byte(ns)))
	}
	return nil
}

// CLIENT SETNAME, GETNAME, ID, SETINFO (accepted, ignored): what client
// libraries send on connecting.
func cmdClient(_ context.Context, s *session, w *redcon.Writer, args [][]byte) {
	sub := strings.ToLower(string(args[1]))
	switch {
	case sub == "setname" && len(args) == 3:
		s.name = string(args[2])
		w.WriteString("OK")
	case sub == "getname" && len(args) == 2:
		if s.name == "" {
			w.WriteNull()
			return
		}
		w.WriteBulkString(s.name)
	case sub == "id" && len(args) == 2:
		w.WriteInt64(s.id)
	case sub == "setinfo" && len(args) == 4:
		w.WriteString("OK")
	default:
		w.WriteError(fmt.Sprintf("ERR unknown subcommand or wrong number of arguments for 'client|%s': grapevine knows CLIENT SETNAME, GETNAME, ID and SETINFO", clip(args[1])))
	}
}

package api

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path"
	"strings"
	"sync/atomic"

	"github.com/grapevine-kv/grapevine/api/apitype"
)

// access is what an endpoint needs of the caller's API token. The zero
// value is the most a token can grant, so an endpoint added without a
// thought needs a write token.
type access uint8

const (
	accessWrite  access = iota // a write token (for the request's namespace, on a scoped route)
	accessRead                 // any valid token (for the request's namespace, on a scoped route)
	accessPublic               // no token at all: /healthz and /readyz only
)

func (a access) String() string {
	switch a {
	case accessRead:
		return "read"
	case accessPublic:
		return "public"
	}
	return "write"
}

// Tokens are the API tokens a server accepts (WithTokens), read from a
// token file (LoadTokens). Only SHA-256 hashes of the tokens are kept.
// Safe for concurrent use; Reload swaps the whole set at once.
//
// The file has one token per line:
//
//	<token> <read|write> [namespace-pattern ...]
//
// No pattern means every namespace; a pattern is a path.Match glob such as
// tenant-*. A write token may also read. Blank lines are ignored, and a
// word starting with # starts a comment to the end of the line (so a token
// may not start with #). A malformed line is an error naming its line
// number, never its content.
type Tokens struct {
	file string
	set  atomic.Pointer[tokenSet]
}

// tokenSet is one parse of a token file.
type tokenSet struct {
	entries []tokenEntry
}

// tokenEntry is one line of a token file.
type tokenEntry struct {
	hash     [sha256.Size]byte
	write    bool
	patterns []string // nil: every namespace
	line     int
}

// LoadTokens reads the token file at file.
func LoadTokens(file string) (*Tokens, error) {
	t := &Tokens{file: file}
	if err := t.Reload(); err != nil {
		return nil, err
	}
	return t, nil
}

// Reload reads the token file again and, if it is valid, replaces the
// tokens (requests in flight finish with the old ones). On an error the
// current tokens stay.
func (t *Tokens) Reload() error {
	f, err := os.Open(t.file)
	if err != nil {
		return fmt.Errorf("api: token file: %w", err)
	}
	defer f.Close()
	set, err := parseTokens(f)
	if err != nil {
		return fmt.Errorf("api: token file %s: %w", t.file, err)
	}
	t.set.Store(set)
	return nil
}

// Len returns the number of tokens.
func (t *Tokens) Len() int { return len(t.set.Load().entries) }

// parseTokens parses a token file. Its errors name the line but never
// quote it: any word of a malformed line may be a token.
func parseTokens(r io.Reader) (*tokenSet, error) {
	set := &tokenSet{}
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		words := strings.Fields(sc.Text())
		for i, w := range words {
			if strings.HasPrefix(w, "#") {
				words = words[:i]
				break
			}
		}
		if len(words) == 0 {
			continue
		}
		if len(words) < 2 {
			return nil, fmt.Errorf("line %d: want <token> <read|write> [namespace-pattern ...], got one word", line)
		}
		e := tokenEntry{hash: sha256.Sum256([]byte(words[0])), line: line}
		switch words[1] {
		case "read":
		case "write":
			e.write = true
		default:
			return nil, fmt.Errorf("line %d: the second word must be read or write", line)
		}
		for i, p := range words[2:] {
			if _, err := path.Match(p, ""); err != nil {
				return nil, fmt.Errorf("line %d: namespace pattern %d is not a valid glob (path.Match)", line, i+1)
			}
			e.patterns = append(e.patterns, p)
		}
		for _, o := range set.entries {
			if o.hash == e.hash {
				return nil, fmt.Errorf("line %d: the same token as line %d", line, o.line)
			}
		}
		set.entries = append(set.entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(set.entries) == 0 {
		return nil, errors.New("no tokens: every request but /healthz and /readyz would be refused")
	}
	return set, nil
}

// lookup returns the entry of token, or nil. It compares the token's hash
// with every entry's in constant time and does not stop at a match, so the
// time taken says nothing about which or how many tokens exist.
func (s *tokenSet) lookup(token string) *tokenEntry {
	h := sha256.Sum256([]byte(token))
	found := -1
	for i := range s.entries {
		eq := subtle.ConstantTimeCompare(h[:], s.entries[i].hash[:])
		found = subtle.ConstantTimeSelect(eq, i, found)
	}
	if found < 0 {
		return nil
	}
	return &s.entries[found]
}

// allows reports whether the token's patterns admit namespace ns.
func (e *tokenEntry) allows(ns string) bool {
	if e.patterns == nil {
		return true
	}
	for _, p := range e.patterns {
		if ok, _ := path.Match(p, ns); ok {
			return true
		}
	}
	return false
}

// WithTokens makes the server require the API tokens t (see the package
// documentation for who needs what); without it, the server needs none.
func WithTokens(t *Tokens) ServeOption { return func(s *Server) { s.tokens = t } }

// WithTLS makes Serve answer HTTPS with cfg (see LoadTLS) and record an
// https:// URL in <data>/api.
func WithTLS(cfg *tls.Config) ServeOption { return func(s *Server) { s.tls = cfg } }

// LoadTLS returns a server TLS configuration (TLS 1.2 or later) with the
// PEM certificate chain and key in certFile and keyFile.
func LoadTLS(certFile, keyFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("api: TLS certificate: %w", err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}, nil
}

// ErrExposed is returned by CheckExposure for an API that would listen
// beyond loopback without tokens.
var ErrExposed = errors.New("api: listening beyond loopback without API tokens")

// CheckExposure decides whether the API may listen on listen (host:port).
// Loopback (127.0.0.0/8, ::1, localhost) is always fine. Anything else (an
// empty host, 0.0.0.0, another address, any other host name, which is not
// resolved) needs tokens, or insecure: then risky is true and the caller
// should warn loudly. Otherwise the error wraps ErrExposed.
func CheckExposure(listen string, haveTokens, insecure bool) (risky bool, err error) {
	if Loopback(listen) || haveTokens {
		return false, nil
	}
	if insecure {
		return true, nil
	}
	return false, fmt.Errorf("%w: %s is not a loopback address, so anyone who can reach it could read and write every key", ErrExposed, listen)
}

// Loopback reports whether listen (host:port) is a loopback address:
// 127.0.0.0/8, ::1 or localhost.
func Loopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// refuse counts and logs a refused request and returns its answer. The
// log names the remote address and the reason, never the token.
func (s *Server) refuse(r *http.Request, e *apitype.Error) error {
	s.refusals.WithLabelValues(e.Code).Inc()
	s.log.Warn("API request refused", "remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path, "code", e.Code, "reason", e.Message)
	return e
}

// authenticate returns the entry of the request's token: nil with no error
// when the server needs no tokens or the route is public, 401 unauthorized
// when the token is missing or unknown.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, public bool) (*tokenEntry, error) {
	if s.tokens == nil || public {
		return nil, nil
	}
	unauthorized := func(format string, args ...any) (*tokenEntry, error) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="grapevine"`)
		return nil, s.refuse(r, errorf(http.StatusUnauthorized, apitype.CodeUnauthorized, format, args...))
	}
	h := r.Header.Get("Authorization")
	if h == "" {
		return unauthorized("this daemon needs an API token: send the header Authorization: Bearer TOKEN (the CLI: --token or GRAPEVINE_TOKEN)")
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return unauthorized("the Authorization header must be Bearer TOKEN")
	}
	e := s.tokens.set.Load().lookup(strings.TrimSpace(token))
	if e == nil {
		return unauthorized("the API token is not valid on this daemon")
	}
	return e, nil
}

// authorize checks that tok may do what endpoint ep of rt needs: 403
// forbidden if not. tok is nil when no token is needed.
func (s *Server) authorize(r *http.Request, rt route, ep endpoint, tok *tokenEntry) error {
	if tok == nil || ep.need == accessPublic {
		return nil
	}
	verb := "read"
	if ep.need == accessWrite {
		verb = "write"
	}
	if rt.global {
		if ep.need == accessWrite && !tok.write {
			return s.refuse(r, errorf(http.StatusForbidden, apitype.CodeForbidden, "the token may only read; %s %s needs a write token", ep.method, ep.path))
		}
		return nil
	}
	ns := r.URL.Query().Get("ns")
	if ns == "" {
		ns = "default"
	}
	if (ep.need == accessWrite && !tok.write) || !tok.allows(ns) {
		return s.refuse(r, errorf(http.StatusForbidden, apitype.CodeForbidden, "the token may not %s namespace %q", verb, ns))
	}
	return nil
}

// A Grant is what one valid API token allows. The other doors (the Redis
// protocol's AUTH, gRPC's authorization metadata) check tokens with
// Tokens.Grant and ask it before each command, as the HTTP API does.
type Grant struct{ e *tokenEntry }

// Grant returns the grant of token, and false if token is not valid. Like
// the HTTP API it compares in constant time and never logs the token.
func (t *Tokens) Grant(token string) (Grant, bool) {
	e := t.set.Load().lookup(token)
	if e == nil {
		return Grant{}, false
	}
	return Grant{e}, true
}

// CanRead reports whether the token may read namespace ns.
func (g Grant) CanRead(ns string) bool { return g.e != nil && g.e.allows(ns) }

// CanWrite reports whether the token may write namespace ns.
func (g Grant) CanWrite(ns string) bool { return g.e != nil && g.e.write && g.e.allows(ns) }

// Writer reports whether the token may write (some namespaces): what the
// global write endpoints (sync, import) need.
func (g Grant) Writer() bool { return g.e != nil && g.e.write }

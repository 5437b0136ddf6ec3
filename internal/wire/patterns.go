package wire

import (
	"fmt"
	"path"

	"google.golang.org/protobuf/encoding/protowire"
)

// Limits on namespace patterns (node.Config.Namespaces, the daemon's
// --namespaces), which travel in the sync hello.
const (
	// MaxPatterns bounds the patterns a peer replicates and a hello lists.
	MaxPatterns = 256
	// MaxPatternLen bounds one pattern in bytes.
	MaxPatternLen = 128
)

// ValidPattern reports whether p is a namespace pattern: a path.Match
// pattern of 1..MaxPatternLen bytes ("*", "tenant-*", "a", "logs-[0-9]").
func ValidPattern(p string) error {
	if len(p) == 0 || len(p) > MaxPatternLen {
		return fmt.Errorf("namespace pattern %q: want 1 to %d bytes", p, MaxPatternLen)
	}
	if _, err := path.Match(p, ""); err != nil {
		return fmt.Errorf("namespace pattern %q: %w", p, err)
	}
	return nil
}

// MatchNamespace reports whether a peer replicating patterns replicates
// namespace ns: no patterns at all means every namespace (a peer of an
// older version, or the default "*"); a malformed pattern matches nothing.
// It is the one rule of partial replication: subscriptions, sync hellos,
// storage and forwarding all ask it.
func MatchNamespace(patterns []string, ns string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if ok, err := path.Match(p, ns); err == nil && ok {
			return true
		}
	}
	return false
}

// IsLiteralPattern reports whether p matches exactly one name (it has no
// path.Match meta-character), so that a peer holds that namespace even
// before it stores anything there.
func IsLiteralPattern(p string) bool {
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '*', '?', '[', '\\':
			return false
		}
	}
	return true
}

// The hello's patterns (field 5), the namespaces its sender replicates:
//
//	message Hello { ...; repeated string patterns = 5; }
//
// A hello without field 5 (a peer of an older version, or one replicating
// everything) replicates every namespace. A round reconciles the
// namespaces either side lists that both sides' patterns match.

// AppendHelloPatterns appends the patterns this side replicates to a hello
// payload; "*" alone (or none) appends nothing.
func AppendHelloPatterns(b []byte, patterns []string) []byte {
	if len(patterns) == 1 && patterns[0] == "*" {
		return b
	}
	for _, p := range patterns {
		b = protowire.AppendTag(b, 5, protowire.BytesType)
		b = protowire.AppendString(b, p)
	}
	return b
}

// HelloPatterns returns the patterns a hello says its sender replicates,
// nil for every namespace. At most MaxPatterns, each a ValidPattern; errors
// wrap ErrMalformed. The result does not alias b.
func HelloPatterns(b []byte) ([]string, error) {
	return helloStrings(b, 5, "pattern", MaxPatterns, ValidPattern)
}

package node_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"
	"testing"

	"github.com/grapevine-kv/grapevine/node"
)

// Example embeds a peer in a program: the README's "As a Go library"
// snippet, between the markers, with a temporary data directory.
func Example() {
	ctx := context.Background()
	dataDir, err := os.MkdirTemp("", "grapevine-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dataDir)

	// README begin
	cfg := node.DefaultConfig()
	cfg.DataDir = dataDir                                   // e.g. /var/lib/myapp/grapevine
	cfg.Peer.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0"} // loopback, any free port
	n, err := node.New(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer n.Close()
	if err := n.Start(ctx); err != nil {
		log.Fatal(err)
	}
	if _, err := n.Put(ctx, "", []byte("greeting"), []byte("hello")); err != nil {
		log.Fatal(err)
	}
	v, err := n.Get(ctx, "", []byte("greeting"))
	switch {
	case errors.Is(err, node.ErrNotFound):
		fmt.Println("no greeting")
	case err != nil:
		log.Fatal(err)
	default:
		fmt.Printf("%s\n", v.Data)
	}
	// README end

	// Output: hello
}

// TestReadmeSnippetIsTheExample: the README's library snippet is the
// body of Example, line for line, so the README shows code that compiles
// and runs.
func TestReadmeSnippetIsTheExample(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "## As a Go library")
	_, block, ok2 := strings.Cut(after, "```go\n")
	snippet, _, ok3 := strings.Cut(block, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("README has no ```go block under \"## As a Go library\"")
	}
	_, body, _ := strings.Cut(string(src), "// README begin\n")
	body, _, _ = strings.Cut(body, "\t// README end")
	if normalize(snippet) != normalize(body) {
		t.Errorf("README snippet and Example differ; make the README show:\n%s", dedent(body))
	}
}

func normalize(s string) string { return strings.Join(strings.Fields(s), " ") }

func dedent(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(l, "\t")
	}
	return strings.Join(lines, "\n")
}

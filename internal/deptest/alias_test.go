package deptest

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"testing"
)

// peerAlias is the one name of libp2p's core/peer outside grapevine's own
// peer package, so "peer" always means grapevine's package.
const (
	libp2pPeer = "github.com/libp2p/go-libp2p/core/peer"
	peerAlias  = "libp2ppeer"
)

// TestLibp2pPeerAlias fails on a file (tests included) outside package
// peer that imports libp2p's core/peer under another name.
func TestLibp2pPeerAlias(t *testing.T) {
	for _, p := range listPackages(t) {
		if p.ImportPath == module+"/peer" {
			continue
		}
		files, _ := filepath.Glob(filepath.Join(p.Dir, "*.go"))
		fset := token.NewFileSet()
		for _, f := range files {
			af, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range af.Imports {
				if path, _ := strconv.Unquote(imp.Path.Value); path != libp2pPeer {
					continue
				}
				if imp.Name == nil || imp.Name.Name != peerAlias {
					t.Errorf("%s imports %s without the alias %s", fset.Position(imp.Pos()), libp2pPeer, peerAlias)
				}
			}
		}
	}
}

// Package deptest enforces the project's layering and documentation rules:
// data flows one way (cmd → api → node → {gossip, peer} → storage → crdt),
// internal/wire ranks below gossip, internal/chaos imports no server layer
// (only crdt, internal/wire and the API's client and types), crdt imports
// only the standard library, and every package and exported name carries a
// doc comment.
package deptest

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/grapevine-kv/grapevine"

// layer ranks each top-level folder, each package of internal/ and the
// two-level folders it names (api/apitype, api/client) on their own; a
// package may import project packages of a strictly lower rank only.
// Rank -1 is shared plumbing (internal/testutil, internal/deptest): allowed
// from everywhere but crdt, and it must not import above storage itself.
var layer = map[string]int{
	"crdt": 0,
	// The API's wire types and its Go client import only the standard
	// library and each other (TestClientIsLight), so they rank at the
	// bottom: anything may use them, they use nothing of the project.
	"api/apitype": 0,
	"api/client":  1,
	// api/ui is the web dashboard's embedded files and their handler:
	// standard library only; api serves it at /ui/.
	"api/ui": 0,
	// internal/wire holds every wire format and limit (key and namespace
	// lengths included, which storage enforces); it ranks below storage
	// and gossip and imports only crdt (and protowire, see wireImports).
	"internal/wire": 1,
	// internal/rangetree is the one definition of the anti-entropy range
	// tree, shared by storage and gossip/reconcile; standard library only
	// (rangetree_test.go).
	"internal/rangetree": 1,
	// internal/powerfs is a power-loss test filesystem (FUSE); it
	// imports no project package, so storage's tests and internal/chaos
	// may both use it.
	"internal/powerfs": 1,
	"storage":          2,
	// internal/chaos drives real daemons through api/client and sends
	// hostile input built with internal/wire; ranked with storage, it may
	// import none of the server: not storage, gossip (nor
	// gossip/reconcile), peer, node or api.
	"internal/chaos": 2,
	"gossip":         3,
	"peer":           3,
	"node":           4,
	"api":            5,
	// internal/loadgen generates load for `grapevine bench` and the Go
	// benchmarks: it drives a node (embedded) or a daemon (api/client),
	// never the API server, which imports it in tests only.
	"internal/loadgen":  5,
	"cmd":               6,
	"internal/testutil": -1,
	"internal/deptest":  -1,
}

// wireImports are the only modules outside the standard library and the
// project that internal/wire may import: protobuf's wire encoding, and S2
// for compressed states frames.
var wireImports = []string{"google.golang.org/protobuf/encoding/protowire", "github.com/klauspost/compress/s2"}

type pkg struct {
	ImportPath string
	Dir        string
	Name       string
	Imports    []string
	Standard   bool
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-json", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// top returns the unit of a project import path that layer ranks:
// internal/<name> for a package of internal/, a two-level folder that layer
// ranks on its own (api/client), else its top-level folder.
func top(path string) string {
	rel := strings.TrimPrefix(strings.TrimPrefix(path, module), "/")
	parts := strings.SplitN(rel, "/", 3)
	if len(parts) > 1 {
		sub := parts[0] + "/" + parts[1]
		if _, ranked := layer[sub]; ranked || parts[0] == "internal" {
			return sub
		}
	}
	return parts[0]
}

func isStd(path string) bool {
	first := strings.SplitN(path, "/", 2)[0]
	return !strings.Contains(first, ".")
}

func TestForbiddenImports(t *testing.T) {
	for _, p := range listPackages(t) {
		from := top(p.ImportPath)
		if _, ok := layer[from]; !ok {
			t.Errorf("%s: %q has no layer; add it to deptest", p.ImportPath, from)
			continue
		}
		for _, imp := range p.Imports {
			if err := checkImport(from, imp); err != "" {
				t.Errorf("%s imports %s: %s", p.ImportPath, imp, err)
			}
		}
	}
}

// checkImport returns why a package of unit from may not import imp, or "".
func checkImport(from, imp string) string {
	if from == "crdt" && !isStd(imp) {
		return "crdt may import only the standard library"
	}
	if !strings.HasPrefix(imp, module+"/") {
		if from == "internal/wire" && !isStd(imp) && !slices.Contains(wireImports, imp) {
			return "internal/wire may import only crdt, the standard library, protowire and s2"
		}
		return ""
	}
	to := top(imp)
	if to == from {
		return ""
	}
	rank, toRank := layer[from], layer[to]
	switch {
	case rank == -1 && toRank > layer["storage"]:
		return fmt.Sprintf("%s is shared plumbing and may not import layers above storage", from)
	case rank != -1 && toRank == -1:
		return ""
	case toRank >= rank:
		return fmt.Sprintf("%s (layer %d) may not import %s (layer %d)", from, rank, to, toRank)
	}
	return ""
}

// TestCheckImport shows that the rules catch the imports they exist to
// forbid.
func TestCheckImport(t *testing.T) {
	cases := []struct {
		from, imp string
		ok        bool
	}{
		{"gossip", module + "/internal/wire", true},
		{"node", module + "/internal/wire", true},
		{"internal/chaos", module + "/internal/wire", true},
		{"internal/chaos", module + "/crdt", true},
		{"internal/chaos", module + "/gossip", false},
		{"internal/chaos", module + "/gossip/reconcile", false},
		{"internal/chaos", module + "/node", false},
		{"internal/chaos", module + "/api", false},
		{"internal/chaos", module + "/api/apitype", true},
		{"internal/chaos", module + "/api/client", true},
		{"internal/chaos", module + "/peer", false},
		{"internal/chaos", module + "/storage", false},
		{"api/client", module + "/api/apitype", true},
		{"api/apitype", module + "/api/client", false},
		{"api/client", module + "/api", false},
		{"api/apitype", module + "/api", false},
		{"api/client", module + "/node", false},
		{"api", module + "/api/apitype", true},
		{"cmd", module + "/api/client", true},
		{"internal/wire", module + "/crdt", true},
		{"internal/wire", "google.golang.org/protobuf/encoding/protowire", true},
		{"internal/wire", module + "/gossip", false},
		{"internal/wire", module + "/storage", false},
		{"internal/wire", "github.com/libp2p/go-libp2p/core/protocol", false},
		{"storage", module + "/gossip", false},
		{"crdt", "google.golang.org/protobuf/encoding/protowire", false},
		{"internal/testutil", module + "/node", false},
		{"gossip", module + "/internal/testutil", true},
	}
	for _, c := range cases {
		if got := checkImport(c.from, c.imp); (got == "") != c.ok {
			t.Errorf("checkImport(%s, %s) = %q, want allowed=%v", c.from, c.imp, got, c.ok)
		}
	}
}

// TestDocs fails on a package without a package comment or an exported
// top-level name without a doc comment. Generated files (a "Code
// generated ... DO NOT EDIT." line) are not checked for names.
func TestDocs(t *testing.T) {
	for _, p := range listPackages(t) {
		files, _ := filepath.Glob(filepath.Join(p.Dir, "*.go"))
		fset := token.NewFileSet()
		hasPkgDoc, nonTest := false, 0
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			nonTest++
			af, err := parser.ParseFile(fset, f, nil, parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			if af.Doc != nil {
				hasPkgDoc = true
			}
			if ast.IsGenerated(af) {
				continue // its docs are in its source (a .proto); a hand-written doc.go carries the package's
			}
			checkDeclDocs(t, fset, af, p.Name)
		}
		if !hasPkgDoc && nonTest > 0 {
			t.Errorf("%s: package has no doc comment", p.ImportPath)
		}
	}
}

func checkDeclDocs(t *testing.T, fset *token.FileSet, f *ast.File, pkgName string) {
	if pkgName == "main" {
		return
	}
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if !d.Name.IsExported() || d.Doc != nil {
				continue
			}
			if d.Recv != nil && !exportedRecv(d.Recv) {
				continue
			}
			t.Errorf("%s: exported %s has no doc comment", fset.Position(d.Pos()), d.Name.Name)
		case *ast.GenDecl:
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.TypeSpec:
					if s.Name.IsExported() && d.Doc == nil && s.Doc == nil {
						t.Errorf("%s: exported type %s has no doc comment", fset.Position(s.Pos()), s.Name.Name)
					}
				case *ast.ValueSpec:
					for _, n := range s.Names {
						if n.IsExported() && d.Doc == nil && s.Doc == nil && s.Comment == nil {
							t.Errorf("%s: exported %s has no doc comment", fset.Position(n.Pos()), n.Name)
						}
					}
				}
			}
		}
	}
}

func exportedRecv(fl *ast.FieldList) bool {
	if len(fl.List) == 0 {
		return false
	}
	typ := fl.List[0].Type
	if s, ok := typ.(*ast.StarExpr); ok {
		typ = s.X
	}
	if ix, ok := typ.(*ast.IndexExpr); ok {
		typ = ix.X
	}
	id, ok := typ.(*ast.Ident)
	return ok && id.IsExported()
}

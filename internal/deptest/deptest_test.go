// Package deptest enforces the project's layering and documentation rules:
// data flows one way (cmd → api → node → {gossip, peer} → storage → crdt),
// crdt imports only the standard library, and every package and exported
// name carries a doc comment.
package deptest

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/grapevine-kv/grapevine"

// layer ranks each top-level folder; a package may import project packages
// of a strictly lower rank only (internal/ is shared plumbing, allowed from
// everywhere but crdt, and must not import a higher layer itself).
var layer = map[string]int{
	"crdt":     0,
	"storage":  1,
	"gossip":   2,
	"peer":     2,
	"node":     3,
	"api":      4,
	"cmd":      5,
	"internal": -1,
}

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

// top returns the top-level folder of a project import path.
func top(path string) string {
	rel := strings.TrimPrefix(strings.TrimPrefix(path, module), "/")
	return strings.SplitN(rel, "/", 2)[0]
}

func isStd(path string) bool {
	first := strings.SplitN(path, "/", 2)[0]
	return !strings.Contains(first, ".")
}

func TestForbiddenImports(t *testing.T) {
	for _, p := range listPackages(t) {
		from := top(p.ImportPath)
		rank, ok := layer[from]
		if !ok {
			t.Errorf("%s: top-level folder %q has no layer; add it to deptest", p.ImportPath, from)
			continue
		}
		for _, imp := range p.Imports {
			if from == "crdt" && !isStd(imp) {
				t.Errorf("%s imports %s: crdt may import only the standard library", p.ImportPath, imp)
			}
			if !strings.HasPrefix(imp, module+"/") {
				continue
			}
			to := top(imp)
			if to == from {
				continue
			}
			toRank := layer[to]
			switch {
			case from == "internal" && toRank > layer["storage"]:
				t.Errorf("%s imports %s: internal/ may not import layers above storage", p.ImportPath, imp)
			case from != "internal" && to != "internal" && toRank >= rank:
				t.Errorf("%s imports %s: %s (layer %d) may not import %s (layer %d)", p.ImportPath, imp, from, rank, to, toRank)
			}
		}
	}
}

// TestDocs fails on a package without a package comment or an exported
// top-level name without a doc comment.
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

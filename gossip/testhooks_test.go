package gossip

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// Test-only API sits in testhooks.go and nowhere else: every exported name
// there ends in ForTest, and no other file of the package declares one.
func TestHooksInOnePlace(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			var names []*ast.Ident
			switch d := d.(type) {
			case *ast.FuncDecl:
				names = append(names, d.Name)
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						names = append(names, s.Name)
					case *ast.ValueSpec:
						names = append(names, s.Names...)
					}
				}
			}
			for _, id := range names {
				if !id.IsExported() {
					continue
				}
				hook := strings.HasSuffix(id.Name, "ForTest")
				if hook != (name == "testhooks.go") {
					t.Errorf("%s: %s: test-only names (…ForTest) belong in testhooks.go, and only they", fset.Position(id.Pos()), id.Name)
				}
			}
		}
	}
}

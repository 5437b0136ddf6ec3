package node_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocListsEveryMethod: the package doc names every exported method of
// Node, so it lists what exists.
func TestDocListsEveryMethod(t *testing.T) {
	fset := token.NewFileSet()
	names, _ := filepath.Glob("*.go")
	files := map[string]*ast.File{}
	var doc string
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		files[name] = f
		if f.Doc != nil {
			doc += f.Doc.Text()
		}
	}
	for name, f := range files {
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv == nil || !fn.Name.IsExported() || strings.HasSuffix(fn.Name.Name, "ForTest") {
				continue
			}
			if recv := fn.Recv.List[0].Type; !isNode(recv) {
				continue
			}
			if !strings.Contains(doc, fn.Name.Name) {
				t.Errorf("%s: Node.%s is not mentioned in the package doc (doc.go)", name, fn.Name.Name)
			}
		}
	}
}

func isNode(e ast.Expr) bool {
	if s, ok := e.(*ast.StarExpr); ok {
		e = s.X
	}
	id, ok := e.(*ast.Ident)
	return ok && id.Name == "Node"
}

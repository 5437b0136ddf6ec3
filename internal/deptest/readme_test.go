package deptest

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// layoutRow matches a row of the README's layout table: "| `api/client/` | ...".
var layoutRow = regexp.MustCompile("^\\| `([a-z0-9/_-]+)/` \\|")

// TestReadmeLayout: every folder in the README's layout table holds
// packages, and every package is in a listed folder.
func TestReadmeLayout(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, l := range strings.Split(string(b), "\n") {
		if m := layoutRow.FindStringSubmatch(l); m != nil {
			rows = append(rows, m[1])
		}
	}
	if len(rows) == 0 {
		t.Fatal("no layout table in the README")
	}
	pkgs := listPackages(t)
	for _, row := range rows {
		found := false
		for _, p := range pkgs {
			rel := strings.TrimPrefix(p.ImportPath, module+"/")
			found = found || rel == row || strings.HasPrefix(rel, row+"/")
		}
		if !found {
			t.Errorf("the README's layout lists %s/, which holds no package", row)
		}
	}
	for _, p := range pkgs {
		rel := strings.TrimPrefix(p.ImportPath, module+"/")
		found := false
		for _, row := range rows {
			found = found || rel == row || strings.HasPrefix(rel, row+"/")
		}
		if !found {
			t.Errorf("%s is in no folder of the README's layout table", p.ImportPath)
		}
	}
}

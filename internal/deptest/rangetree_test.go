package deptest

import "testing"

// TestRangeTreeIsPure fails if internal/rangetree, the one definition of
// the anti-entropy range tree shared by storage and gossip/reconcile,
// imports anything but the standard library.
func TestRangeTreeIsPure(t *testing.T) {
	found := false
	for _, p := range listPackages(t) {
		if p.ImportPath != module+"/internal/rangetree" {
			continue
		}
		found = true
		for _, imp := range p.Imports {
			if !isStd(imp) {
				t.Errorf("%s imports %s: it may import only the standard library", p.ImportPath, imp)
			}
		}
	}
	if !found {
		t.Errorf("%s/internal/rangetree not found", module)
	}
}

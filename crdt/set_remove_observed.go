//go:build !grapevine_remove_wins

package crdt

// removeDots adds the dots of a removed member to the remove delta d's
// context: the remove takes out exactly the adds it has seen.
func removeDots(d *Set, dots map[Dot]struct{}) {
	for dot := range dots {
		d.addDot(dot)
	}
}

//go:build grapevine_remove_wins

package crdt

// removeWindow is how many unseen adds of each peer a remove cancels in
// the grapevine_remove_wins control.
const removeWindow = 64

// removeDots, in this deliberately broken build (tag
// grapevine_remove_wins), also marks as seen the next removeWindow dots
// of every peer whose add it removes: adds those peers make concurrently,
// unseen by the remover, are cancelled when the remove reaches them —
// remove wins (and, the context being the set's, it cancels their
// concurrent adds of other members too). The fault-injection suite
// (internal/chaos) must report a sets violation. Never ship it.
func removeDots(d *Set, dots map[Dot]struct{}) {
	for dot := range dots {
		for c := dot.Counter; c <= dot.Counter+removeWindow; c++ {
			d.addDot(Dot{Origin: dot.Origin, Counter: c})
		}
	}
}

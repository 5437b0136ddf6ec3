package main

import "testing"

// TestRecoverCommand: the command the refusal prints is the daemon's own
// command line with --on-damage quarantine, any other --on-damage dropped,
// quoted for a shell.
func TestRecoverCommand(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"grapevine", "daemon", "--data", "/d"}, "grapevine daemon --on-damage quarantine --data /d"},
		{[]string{"/usr/bin/grapevine", "daemon", "--on-damage", "refuse", "--data", "my dir", "--on-damage=refuse"},
			"/usr/bin/grapevine daemon --on-damage quarantine --data 'my dir'"},
		{[]string{"grapevine", "daemon", "--network", "it's"}, `grapevine daemon --on-damage quarantine --network 'it'\''s'`},
		{[]string{"weird"}, "grapevine daemon --on-damage quarantine"},
	} {
		if got := recoverCommand(tc.args); got != tc.want {
			t.Errorf("recoverCommand(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
}

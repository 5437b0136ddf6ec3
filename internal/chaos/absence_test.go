package chaos

import (
	"strings"
	"testing"
	"time"
)

func TestResurrection(t *testing.T) {
	away := &AbsenceReport{Peer: 1, Away: 25 * time.Second, Grace: 15 * time.Second, Held: 2,
		Deleted: []string{awayKeyPrefix + "0", awayKeyPrefix + "1"}, Returned: true}
	cases := []struct {
		name  string
		abs   *AbsenceReport
		regs  map[string]Reg
		valid bool
		want  string
	}{
		{"none", nil, map[string]Reg{}, true, "no long absence"},
		{"stays deleted", away, map[string]Reg{awayKeyPrefix + "0": {Absent: true}}, true, "2 deleted meanwhile checked on every peer, resurrected 0"},
		{"comes back", away, map[string]Reg{awayKeyPrefix + "1": {Value: "away/1", Version: 3}}, false, "resurrected 2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := checkResurrection(Input{Final: finals(tc.regs, nil, 2), Absence: tc.abs})
			if res.Valid != tc.valid || !strings.Contains(res.Summary, tc.want) {
				t.Fatalf("got valid=%v %q, want valid=%v and %q", res.Valid, res.Summary, tc.valid, tc.want)
			}
			if !tc.valid && len(res.Offending) != 2 {
				t.Fatalf("offending %q, want one line per peer", res.Offending)
			}
		})
	}
}

func TestNormValue(t *testing.T) {
	if got := normValue("w1/2"); got != "w1/2" {
		t.Fatalf("small value changed: %q", got)
	}
	big := "w1/2" + bigSep + strings.Repeat("x", 5000)
	if got := normValue(big); got != "w1/2|x5000" {
		t.Fatalf("normValue(big) = %q", got)
	}
}

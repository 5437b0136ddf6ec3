package chaos

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/grapevine-kv/grapevine/internal/powerfs"
)

// TestDurabilityPowerLoss: the durability checker counts power losses and
// what they dropped, and fails a peer that lost an acknowledged write in
// one or did not come back from it.
func TestDurabilityPowerLoss(t *testing.T) {
	lost := powerfs.Loss{Files: 2, Bytes: 8192, Entries: 1}
	ok := checkDurability(Input{Durability: []DurabilityCheck{
		{Checked: 3}, {Checked: 4, PowerLoss: true, Lost: lost}, {Checked: 1, PowerLoss: true},
	}})
	if !ok.Valid || !strings.Contains(ok.Summary, "3 restarts (2 power losses, dropping 2 un-fsynced files, 8192 bytes, 1 directory entries), 8 acknowledged writes") {
		t.Fatalf("clean power losses: valid=%v %q", ok.Valid, ok.Summary)
	}
	for _, d := range []DurabilityCheck{
		{Checked: 3, PowerLoss: true, Missing: []string{"r/0: acknowledged write missing"}},
		{PowerLoss: true, Err: "did not come back after power loss: storage: open: corrupt"},
	} {
		r := checkDurability(Input{Durability: []DurabilityCheck{d}})
		if r.Valid || len(r.Offending) != 1 || !strings.Contains(r.Offending[0], "after a power loss") {
			t.Errorf("%+v: valid=%v %q %q", d, r.Valid, r.Summary, r.Offending)
		}
	}
}

// TestDisksPowerLoss: a peer's data directory on the run's disks loses
// what was not fsynced at a power loss, keeps what was, and Close unmounts
// every disk (the mount point is a plain empty directory again).
func TestDisksPowerLoss(t *testing.T) {
	dir := t.TempDir()
	backing := []string{filepath.Join(dir, "p1.disk"), filepath.Join(dir, "p2.disk")}
	mounts := []string{filepath.Join(dir, "p1"), filepath.Join(dir, "p2")}
	for _, b := range backing {
		if err := os.Mkdir(b, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	// Set up before the mount, like the identities: durable.
	if err := os.WriteFile(filepath.Join(backing[0], "identity.key"), []byte("id"), 0o600); err != nil {
		t.Fatal(err)
	}
	dk, err := mountDisks(backing, mounts)
	if errors.Is(err, errNoFUSE) {
		t.Skipf("needs FUSE: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer dk.Close()
	if err := os.WriteFile(filepath.Join(mounts[0], "volatile"), []byte("gone"), 0o600); err != nil {
		t.Fatal(err)
	}
	loss, err := dk.powerLoss(0)
	if err != nil {
		t.Fatal(err)
	}
	if loss.Entries == 0 {
		t.Errorf("power loss dropped %+v, want the unsynced entry", loss)
	}
	if _, err := os.Stat(filepath.Join(mounts[0], "volatile")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an unsynced file survived the power loss: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(mounts[0], "identity.key")); err != nil || string(b) != "id" {
		t.Errorf("the durable identity after the power loss: %q %v", b, err)
	}
	if err := dk.Close(); err != nil {
		t.Fatal(err)
	}
	for _, m := range mounts {
		if ents, err := os.ReadDir(m); err != nil || len(ents) != 0 {
			t.Errorf("%s after Close: %v %v, want an empty directory (unmounted)", m, ents, err)
		}
	}
}

// TestBigValues: a write-once large value must be on every live peer at
// its acknowledged version.
func TestBigValues(t *testing.T) {
	key := qualified(bigNS, "v/1")
	ops := []Op{{Process: bigProcess, F: FPut, Peer: 0, Key: key, Value: "big1|x100", Version: 7, Type: TypeOK}}
	good := Reg{Value: "big1|x100", Version: 7}
	for _, tc := range []struct {
		name  string
		other Reg
		valid bool
	}{
		{"everywhere", good, true},
		{"absent on a peer", Reg{Absent: true}, false},
		{"another version", Reg{Value: "big1|x100", Version: 6}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			final := []FinalState{
				{Peer: 0, Live: true, Registers: map[string]Reg{key: good}},
				{Peer: 1, Live: true, Registers: map[string]Reg{key: tc.other}},
			}
			r := checkBigValues(Input{Ops: ops, Final: final})
			if r.Valid != tc.valid || !strings.Contains(r.Summary, "1 write-once values (largest 105 bytes) checked on 2 peers") {
				t.Fatalf("valid=%v %q %q, want valid=%v", r.Valid, r.Summary, r.Offending, tc.valid)
			}
		})
	}
}

// TestJoiners: a new peer must have joined and hold what a first peer
// holds; keys put before it joined are counted.
func TestJoiners(t *testing.T) {
	ops := []Op{put(1, 0, "d/0/1", "old", TypeOK, 5, 1, 2), put(2, 0, "r/0", "new", TypeOK, 9, 20, 21)}
	ref := map[string]Reg{"d/0/1": {Value: "old", Version: 5}, "r/0": {Value: "new", Version: 9}}
	join := []JoinReport{{Peer: 1, At: 10, Joined: true}}
	full := []FinalState{{Peer: 0, Live: true, Registers: ref}, {Peer: 1, Live: true, Registers: ref}}
	if r := checkJoiners(Input{Ops: ops, Final: full, Joins: join}); !r.Valid || !strings.Contains(r.Summary, "holds 2 of the 2 live keys of p1 (1 written before it joined)") {
		t.Fatalf("complete joiner: valid=%v %q", r.Valid, r.Summary)
	}
	partial := []FinalState{{Peer: 0, Live: true, Registers: ref}, {Peer: 1, Live: true, Registers: map[string]Reg{"r/0": ref["r/0"]}}}
	if r := checkJoiners(Input{Ops: ops, Final: partial, Joins: join}); r.Valid || !strings.Contains(r.Summary, "missing or different 1") {
		t.Fatalf("joiner without the old key: valid=%v %q", r.Valid, r.Summary)
	}
	if r := checkJoiners(Input{Ops: ops, Final: full, Joins: []JoinReport{{Peer: 1}}}); r.Valid {
		t.Fatalf("a joiner that never joined passed: %q", r.Summary)
	}
	if r := checkJoiners(Input{Ops: ops, Final: full}); !r.Valid {
		t.Fatalf("no joiner: %q", r.Summary)
	}
}

package storage

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/grapevine-kv/grapevine/crdt"
)

// The crash test re-executes the test binary as a child that applies
// batches to a directory and prints "ack <round> <batch>" after each Apply
// returns; the parent SIGKILLs it at a random moment, reopens the
// directory, and checks every acknowledged batch is there.
const (
	crashChildEnv = "GRAPEVINE_STORAGE_CRASH_DIR"
	crashRoundEnv = "GRAPEVINE_STORAGE_CRASH_ROUND"
	crashSeed     = 20260101
	crashBatch    = 16 // ops per batch: 15 registers and one counter increment
)

// crashOps is batch b of round r: deterministic, so the parent can check it.
func crashOps(round, b int) []Op {
	ops := make([]Op, 0, crashBatch)
	for i := 0; i < crashBatch-1; i++ {
		key := fmt.Sprintf("r%d/b%d/%d", round, b, i)
		value := bytes.Repeat([]byte{byte(b), byte(i)}, 50+(b*7+i)%200)
		ops = append(ops, put("crash", key, crdt.Register{Time: crdt.Timestamp(round<<32 | b<<8 | i), Origin: "child", Value: value}))
	}
	// Every batch also bumps one shared counter on this round's slot.
	return append(ops, incr("crash", "acks", fmt.Sprintf("round-%d", round), 1))
}

// crashChild runs in the child process; it never returns normally (it is
// killed) unless something fails.
func crashChild(dir string) int {
	round, err := strconv.Atoi(os.Getenv(crashRoundEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, "bad round:", err)
		return 2
	}
	opts := DefaultConfig() // SyncWrites on: acknowledged means durable
	opts.PurgeInterval, opts.ValueLogGCInterval = 0, 0
	db, err := Open(dir, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		return 2
	}
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(out, "ready")
	_ = out.Flush()
	for b := 0; ; b++ {
		if _, err := db.Apply(crashOps(round, b)); err != nil {
			fmt.Fprintln(os.Stderr, "apply:", err)
			return 2
		}
		fmt.Fprintf(out, "ack %d %d\n", round, b)
		_ = out.Flush()
	}
}

func TestCrashRecovery(t *testing.T) {
	rounds := 20
	if !testing.Short() && !raceEnabled {
		rounds = 60
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("seed %d, %d rounds", crashSeed, rounds)
	rng := rand.New(rand.NewPCG(crashSeed, 0))
	dir := t.TempDir()
	acked := map[int]int{} // round → batches acknowledged
	for round := 0; round < rounds; round++ {
		// Kill after a random number of acks, then after a random further
		// delay, so the kill lands anywhere in a batch's life.
		killAfter := 1 + rng.IntN(40)
		delay := time.Duration(rng.IntN(3000)) * time.Microsecond
		acked[round] = runCrashChild(t, exe, dir, round, killAfter, delay)

		db, err := Open(dir, testOptions(t))
		if err != nil {
			t.Fatalf("round %d: reopen after SIGKILL: %v", round, err)
		}
		verifyCrashRounds(t, db, acked, round)
		if n := acked[round]; n > 0 {
			last := crashOps(round, n-1)[crashBatch-2].State.(crdt.Register).Time
			if m := db.ClockMark(); m < last {
				t.Errorf("round %d: ClockMark %d after restart is behind acknowledged time %d", round, m, last)
			}
		}
		checkInvariants(t, db)
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if t.Failed() {
			t.Fatalf("round %d failed (seed %d)", round, crashSeed)
		}
	}
}

// runCrashChild starts a child, SIGKILLs it after killAfter acks plus
// delay, and returns the number of batches it acknowledged.
func runCrashChild(t *testing.T, exe, dir string, round, killAfter int, delay time.Duration) int {
	t.Helper()
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, crashRoundEnv+"="+strconv.Itoa(round))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	acks := 0
	killed := false
	var timer *time.Timer
	for lines.Scan() {
		line := lines.Text()
		if line == "ready" {
			continue
		}
		var r, b int
		if _, err := fmt.Sscanf(line, "ack %d %d", &r, &b); err != nil || r != round || b != acks {
			_ = cmd.Process.Kill()
			t.Fatalf("round %d: unexpected child output %q", round, line)
		}
		acks++
		if acks == killAfter && timer == nil {
			timer = time.AfterFunc(delay, func() { _ = cmd.Process.Signal(syscall.SIGKILL) })
			killed = true
		}
	}
	if err := lines.Err(); err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrClosed) {
		t.Logf("reading child output: %v", err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !killed || !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("round %d: child ended with %v after %d acks, not by our SIGKILL; stderr:\n%s", round, err, acks, stderr.String())
	}
	return acks
}

// verifyCrashRounds checks that every acknowledged batch of rounds 0..last
// is stored, and that counters count exactly the committed batches.
func verifyCrashRounds(t *testing.T, db *DB, acked map[int]int, last int) {
	t.Helper()
	for round := 0; round <= last; round++ {
		n := acked[round]
		for b := 0; b < n; b++ {
			for _, op := range crashOps(round, b)[:crashBatch-1] {
				got, err := db.Get("crash", crdt.TypeRegister, op.Key)
				if err != nil || !equalState(got, op.State) {
					t.Errorf("round %d: acknowledged batch %d key %q lost: %v", round, b, op.Key, err)
					return
				}
			}
		}
		// The in-flight batch may or may not have committed, but whole.
		c, err := db.Get("crash", crdt.TypeCounter, []byte("acks"))
		if err != nil {
			t.Errorf("round %d: counter: %v", round, err)
			return
		}
		slot := c.(crdt.Counter).Slot(crdt.ReplicaID(fmt.Sprintf("round-%d", round)))
		if slot.P != uint64(n) && slot.P != uint64(n+1) {
			t.Errorf("round %d: counter slot %d, acknowledged %d", round, slot.P, n)
		}
		if slot.P == uint64(n+1) {
			for _, op := range crashOps(round, n)[:crashBatch-1] {
				if _, err := db.Get("crash", crdt.TypeRegister, op.Key); err != nil {
					t.Errorf("round %d: unacknowledged batch %d half-committed: %q %v", round, n, op.Key, err)
				}
			}
		} else if _, err := db.Get("crash", crdt.TypeRegister, crashOps(round, n)[0].Key); !errors.Is(err, ErrNotFound) {
			t.Errorf("round %d: batch %d partly committed without its counter: %v", round, n, err)
		}
	}
}

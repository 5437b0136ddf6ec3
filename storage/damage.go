package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/table"
)

// ErrDamaged reports that Open found the directory's content damaged: a
// table or value-log file the MANIFEST names is missing, the MANIFEST is
// unreadable (bad magic, checksum mismatch, an impossible record), a
// table's checksum does not match, or a record of this package's own is
// malformed. Open changes nothing in such a directory, and will fail the
// same way every time: the data must be recovered from elsewhere (for
// grapevine, from its peers). It never reports a problem of the
// environment: a directory another process holds (Badger's lock), a
// permission denied, a read-only or full disk, an I/O error, or the wrong
// encryption key (ErrEncryptionKeyMismatch) are plain errors.
var ErrDamaged = errors.New("storage: the database directory is damaged")

// Badger reports damage in words, not in sentinels (its errors are
// flattened to strings on the way up), so Open recognises it by these
// phrases, pinned by TestOpenDamaged against real damaged directories: a
// Badger upgrade that rewords one makes that test fail, never a wrong
// quarantine (an unrecognised failure is a plain error).
var damagePhrases = []string{
	"file does not exist for table",      // a table the MANIFEST names is gone
	"manifest has bad magic",             // MANIFEST truncated or overwritten
	"manifest has checksum mismatch",     // a MANIFEST record corrupted
	"Manifest file might be corrupted",   // a MANIFEST record longer than the file
	"MANIFEST invalid",                   // a MANIFEST record contradicting another
	"invalid manifestChange op",          // a MANIFEST record of unknown kind
	"checksum mismatch",                  // y.ErrChecksumMismatch: a table block or value
	"failed to verify checksum",          // a table's index
	"checksum validation failed",         // a table block
	"Data corrupted",                     // a table's checksum length
	"data is corrupted",                  // a table block that does not decompress
	"Invalid value pointer offset",       // a value-log file shorter than the LSM tree says
	"failed to initialize table",         // a table file too short to hold its footer
	"cannot parse invalid wire-format",   // a MANIFEST record that is not protobuf
	"proto: syntax error",                // likewise
	"unexpected EOF while reading index", // a truncated table
}

// notDamage are failures of the environment, never of the content, even
// when they happen while Badger reads a table (e.g. a table file made
// unreadable by a chmod): the directory is fine once the cause is fixed.
var notDamage = []error{
	syscall.EACCES, syscall.EPERM, syscall.EROFS, syscall.ENOSPC, syscall.EDQUOT,
	syscall.EIO, syscall.EMFILE, syscall.ENFILE, syscall.ENOMEM, syscall.EWOULDBLOCK,
	ErrEncryptionKeyMismatch,
}

// DamageCause returns what err, matching ErrDamaged, says is damaged, in
// Badger's words, without the layers' prefixes (e.g. "file does not exist
// for table 1 (000001.sst), which the MANIFEST names"); err's whole text
// for another error.
func DamageCause(err error) string {
	msg := err.Error()
	if _, after, ok := strings.Cut(msg, ErrDamaged.Error()+": "); ok {
		return after
	}
	return msg
}

// classify wraps err with ErrDamaged if it reports damaged content; any
// other error is returned unchanged.
func classify(err error) error {
	if err == nil || errors.Is(err, ErrDamaged) || !isDamage(err) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrDamaged, err)
}

// isDamage reports whether err, an error of Badger's Open or of this
// package's reads at Open, reports damaged content.
func isDamage(err error) bool {
	msg := err.Error()
	for _, e := range notDamage {
		if errors.Is(err, e) || strings.Contains(msg, e.Error()) {
			return false
		}
	}
	if strings.Contains(msg, "Cannot acquire directory lock") {
		return false
	}
	if errors.Is(err, ErrCorrupt) {
		return true
	}
	for _, p := range damagePhrases {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

// checkManifest reads dir's MANIFEST, if there is one, and checks that
// every table file it names exists. Open runs it before Badger opens the
// directory: Badger creates files (a memtable's log) before it notices a
// missing table, and those checks fail the same way here while nothing
// has been written yet. A partial last record (a crash in the middle of
// an append) is not damage: Badger cuts it off at Open.
func checkManifest(dir string, bo badger.Options) error {
	f, err := os.Open(filepath.Join(dir, "MANIFEST"))
	if errors.Is(err, os.ErrNotExist) {
		return nil // a new directory
	}
	if err != nil {
		return err
	}
	defer f.Close()
	mf, _, err := badger.ReplayManifestFile(f, bo.ExternalMagicVersion, bo)
	if err != nil {
		return classify(fmt.Errorf("reading the MANIFEST: %w", err))
	}
	for id := range mf.Tables {
		name := table.NewFilename(id, dir)
		_, err := os.Stat(name)
		switch {
		case errors.Is(err, os.ErrNotExist):
			return fmt.Errorf("%w: file does not exist for table %d (%s), which the MANIFEST names", ErrDamaged, id, filepath.Base(name))
		case err != nil:
			return err
		}
	}
	return nil
}

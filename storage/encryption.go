package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/dgraph-io/badger/v4"
)

// checkEncryptionKey checks key (nil: none) against the key registry of the
// store in dir by reading it, without opening Badger, so a wrong key changes
// no file. A directory without a registry (a new store) accepts any key.
func checkEncryptionKey(dir string, key []byte) error {
	err := readKeyRegistry(dir, key)
	if !errors.Is(err, badger.ErrEncryptionKeyMismatch) {
		return err
	}
	switch {
	case len(key) == 0:
		return fmt.Errorf("%w: the directory is encrypted and no key was given", ErrEncryptionKeyMismatch)
	case readKeyRegistry(dir, nil) == nil:
		return fmt.Errorf("%w: the directory was written without encryption, which cannot be turned on for existing data", ErrEncryptionKeyMismatch)
	}
	return ErrEncryptionKeyMismatch
}

// readKeyRegistry opens the key registry in dir read-only with key and
// closes it: nil if the key matches or there is no registry.
func readKeyRegistry(dir string, key []byte) error {
	kr, err := badger.OpenKeyRegistry(badger.KeyRegistryOptions{
		Dir:                           dir,
		ReadOnly:                      true,
		EncryptionKey:                 key,
		EncryptionKeyRotationDuration: DefaultEncryptionKeyRotation,
	})
	if err != nil {
		if errors.Is(err, badger.ErrEncryptionKeyMismatch) {
			return err
		}
		return fmt.Errorf("reading the key registry: %w", err)
	}
	return kr.Close()
}

// ChangeEncryptionKey replaces the master encryption key of the closed
// store in dir: it re-encrypts Badger's key registry (the data keys) with
// newKey, the way Badger's own `badger rotate` does; tables and logs keep
// their data keys and are not rewritten, so it takes milliseconds whatever
// the store's size. Badger cannot change the master key of an open store.
//
// Both keys must be 16, 24 or 32 bytes: turning encryption on or off is
// refused, as the existing files would stay as written (plaintext on disk,
// or unreadable). It fails with ErrEncryptionKeyMismatch if oldKey is not
// the directory's key, and while another process has the store open
// (Badger's directory lock, held here in shared mode throughout). The
// registry is replaced by an atomic rename: a crash leaves either key
// valid, never neither.
func ChangeEncryptionKey(dir string, oldKey, newKey []byte) error {
	var errs []error
	for _, k := range []struct {
		name string
		key  []byte
	}{{"old", oldKey}, {"new", newKey}} {
		switch len(k.key) {
		case 16, 24, 32:
		case 0:
			errs = append(errs, fmt.Errorf("no %s key: turning encryption on or off for existing data is not supported", k.name))
		default:
			errs = append(errs, fmt.Errorf("the %s key has %d bytes; AES needs 16, 24 or 32", k.name, len(k.key)))
		}
	}
	if err := invalidConfig(errs); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, badger.KeyRegistryFileName)); err != nil {
		return fmt.Errorf("storage: change encryption key: no store in %q: %w", dir, err)
	}
	if err := checkEncryptionKey(dir, oldKey); err != nil {
		return fmt.Errorf("storage: change encryption key in %q: %w", dir, err)
	}
	// A read-only Badger holds the directory lock (shared), so no writer can
	// open the store meanwhile, and fails if one has it open.
	cfg := DefaultConfig()
	cfg.EncryptionKey = oldKey
	bdb, err := badger.Open(badgerOptions(dir, cfg).WithReadOnly(true))
	if err != nil {
		return fmt.Errorf("storage: change encryption key in %q (is a daemon running on it?): %w", dir, translate(err))
	}
	err = rewriteKeyRegistry(dir, oldKey, newKey)
	if cerr := bdb.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("storage: change encryption key: close: %w", cerr)
	}
	if err != nil {
		return err
	}
	if err := checkEncryptionKey(dir, newKey); err != nil {
		return fmt.Errorf("storage: change encryption key: the new key does not open %q: %w", dir, err)
	}
	return nil
}

// rewriteKeyRegistry re-encrypts the key registry in dir from oldKey to
// newKey.
func rewriteKeyRegistry(dir string, oldKey, newKey []byte) error {
	opt := badger.KeyRegistryOptions{
		Dir:                           dir,
		ReadOnly:                      true,
		EncryptionKey:                 oldKey,
		EncryptionKeyRotationDuration: DefaultEncryptionKeyRotation,
	}
	kr, err := badger.OpenKeyRegistry(opt)
	if err != nil {
		return fmt.Errorf("storage: change encryption key: read the key registry: %w", translate(err))
	}
	if err := kr.Close(); err != nil {
		return fmt.Errorf("storage: change encryption key: %w", err)
	}
	opt.ReadOnly, opt.EncryptionKey = false, newKey
	if err := badger.WriteKeyRegistry(kr, opt); err != nil {
		return fmt.Errorf("storage: change encryption key: write the key registry: %w", err)
	}
	return nil
}

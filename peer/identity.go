package peer

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/libp2p/go-libp2p/core/crypto"
)

// File names inside Config.DataDir.
const (
	identityFile   = "identity.key"
	knownPeersFile = "peers.json"
)

// ErrIdentity is wrapped by errors about the identity key file.
var ErrIdentity = errors.New("peer: identity key")

// loadOrCreateIdentity returns the Ed25519 key in dir/identity.key, creating
// it (mode 0600) if the file does not exist. The key is written to a
// temporary file and linked into place, so a crash never leaves a partial key
// and two processes starting at once agree on one key.
func loadOrCreateIdentity(dir string, log *slog.Logger) (crypto.PrivKey, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("peer: data directory: %w", err)
	}
	path := filepath.Join(dir, identityFile)
	key, err := readIdentity(path, log)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	priv, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("%w: generate: %w", ErrIdentity, err)
	}
	raw, err := crypto.MarshalPrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("%w: marshal: %w", ErrIdentity, err)
	}
	tmp, err := os.CreateTemp(dir, identityFile+".tmp*")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrIdentity, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("%w: %w", ErrIdentity, err)
	}
	if _, err := tmp.Write(raw); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("%w: write %s: %w", ErrIdentity, tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("%w: sync %s: %w", ErrIdentity, tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrIdentity, err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			// Another process created it first: use theirs.
			return readIdentity(path, log)
		}
		return nil, fmt.Errorf("%w: %w", ErrIdentity, err)
	}
	syncDir(dir)
	log.Info("created peer identity", "path", path)
	return priv, nil
}

// readIdentity reads and checks the key at path.
func readIdentity(path string, log *slog.Logger) (crypto.PrivKey, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", ErrIdentity, err)
	}
	priv, err := crypto.UnmarshalPrivateKey(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not a libp2p private key (%w); move it away to create a new identity", ErrIdentity, path, err)
	}
	if priv.Type() != crypto.Ed25519 {
		return nil, fmt.Errorf("%w: %s holds a %v key, want Ed25519", ErrIdentity, path, priv.Type())
	}
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
		log.Warn("identity key is readable by others; setting mode 0600", "path", path, "mode", st.Mode().Perm())
		if err := os.Chmod(path, 0o600); err != nil {
			return nil, fmt.Errorf("%w: chmod %s: %w", ErrIdentity, path, err)
		}
	}
	return priv, nil
}

// syncDir fsyncs a directory so a new entry in it survives power loss; it is
// best effort (not every platform can sync a directory).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

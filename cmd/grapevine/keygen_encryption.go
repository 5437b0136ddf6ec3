package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"

	"github.com/grapevine-kv/grapevine/node"
	"github.com/grapevine-kv/grapevine/storage"
	"github.com/urfave/cli/v2"
)

// An encryption key file holds 64 hex characters (an AES-256 key, as
// `grapevine keygen encryption` prints it; surrounding whitespace and a
// final newline are ignored), or exactly 16, 24 or 32 raw bytes (AES-128,
// -192 or -256, the format of Badger's and Dgraph's key files).
const encryptionKeyHexLen = 64

// keygenEncryptionCommand is `grapevine keygen encryption`: it prints a new
// random AES-256 key in the key file format.
func keygenEncryptionCommand() *cli.Command {
	return &cli.Command{
		Name:  "encryption",
		Usage: "print a new AES-256 key for daemon --encryption-key-file",
		Description: "Prints 32 random bytes (crypto/rand) as 64 hex characters. Example:\n" +
			"  umask 077; grapevine keygen encryption > encryption.key\n" +
			"Keep the file readable by the daemon's user only, and keep a copy: without it the data is lost.",
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return &exitError{code: 2, msg: fmt.Sprintf("keygen encryption takes no arguments, got %q", c.Args().Slice())}
			}
			key := make([]byte, encryptionKeyHexLen/2)
			if _, err := rand.Read(key); err != nil {
				return fmt.Errorf("generating a key: %w", err)
			}
			_, err := fmt.Fprintln(c.App.Writer, hex.EncodeToString(key))
			return err
		},
	}
}

// readEncryptionKeyFile reads a key file (see encryptionKeyHexLen). It also
// returns the file's permissions, for a warning if others may read it.
// Its errors never quote the file's content.
func readEncryptionKeyFile(path string) ([]byte, fs.FileMode, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, fmt.Errorf("reading the encryption key file: %w", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, 0, fmt.Errorf("reading the encryption key file: %w", err)
	}
	if t := bytes.TrimSpace(b); len(t) == encryptionKeyHexLen {
		key := make([]byte, encryptionKeyHexLen/2)
		if _, err := hex.Decode(key, t); err == nil {
			return key, fi.Mode().Perm(), nil
		}
		if len(b) != 16 && len(b) != 24 && len(b) != 32 {
			return nil, 0, fmt.Errorf("encryption key file %s: %d characters but not hex; want 64 hex characters (grapevine keygen encryption) or a raw key of 16, 24 or 32 bytes", path, len(t))
		}
	}
	switch len(b) {
	case 16, 24, 32:
		return b, fi.Mode().Perm(), nil
	}
	return nil, 0, fmt.Errorf("encryption key file %s holds %d bytes; want 64 hex characters (grapevine keygen encryption) or a raw key of 16, 24 or 32 bytes", path, len(b))
}

// rekeyCommand is `grapevine rekey`: it replaces the encryption key of a
// stopped peer's data directory (storage.ChangeEncryptionKey).
func rekeyCommand() *cli.Command {
	return &cli.Command{
		Name:      "rekey",
		Usage:     "change the encryption key of a stopped peer's data directory",
		ArgsUsage: " ",
		Description: "Re-encrypts the database's data keys (Badger's key registry) from the key in\n" +
			"--encryption-key-file to the one in --new-encryption-key-file; the data files are not\n" +
			"rewritten, so it is instant. Stop the daemon first (rekey refuses while it runs), then\n" +
			"restart it with the new key file. Turning encryption on or off for existing data is not\n" +
			"supported. Badger itself rotates the data keys every 10 days while the daemon runs.\n\n" +
			"Example:\n  grapevine rekey --data ~/.grapevine --encryption-key-file old.key --new-encryption-key-file new.key",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "data", EnvVars: []string{"GRAPEVINE_DATA"}, Value: defaultDataDir(), Usage: "the peer's data directory"},
			&cli.StringFlag{Name: "encryption-key-file", EnvVars: []string{"GRAPEVINE_ENCRYPTION_KEY_FILE"}, Required: true, Usage: "`FILE` holding the current key"},
			&cli.StringFlag{Name: "new-encryption-key-file", Required: true, Usage: "`FILE` holding the new key (grapevine keygen encryption)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return &exitError{code: 2, msg: fmt.Sprintf("rekey takes no arguments, got %q", c.Args().Slice())}
			}
			oldKey, _, err := readEncryptionKeyFile(c.String("encryption-key-file"))
			if err != nil {
				return &exitError{code: 2, msg: err.Error()}
			}
			newKey, _, err := readEncryptionKeyFile(c.String("new-encryption-key-file"))
			if err != nil {
				return &exitError{code: 2, msg: err.Error()}
			}
			if err := storage.ChangeEncryptionKey(node.DatabaseDir(c.String("data")), oldKey, newKey); err != nil {
				return err
			}
			_, err = fmt.Fprintf(c.App.Writer, "the data directory %s now opens with the key in %s\n", c.String("data"), c.String("new-encryption-key-file"))
			return err
		},
	}
}

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/grapevine-kv/grapevine/api"
	"github.com/grapevine-kv/grapevine/api/client"
	"github.com/grapevine-kv/grapevine/node"
	"github.com/grapevine-kv/grapevine/storage"
)

// A backup directory holds backupFile (Badger's backup stream of the
// peer's database) and backupManifest (what it is, and its checksum),
// written last, so a directory with a manifest holds a complete backup.
const (
	backupFile     = "grapevine.backup"
	backupManifest = "manifest.json"
	backupFormat   = "grapevine-backup"
	backupVersion  = 1
)

// manifest is backupManifest's content.
type manifest struct {
	Format   string `json:"format"`
	Version  int    `json:"version"`
	Peer     string `json:"peer"`    // the peer backed up (its identity key is not in the backup)
	Created  string `json:"created"` // RFC 3339
	Bytes    int64  `json:"bytes"`
	SHA256   string `json:"sha256"`
	Identity bool   `json:"identity_included"` // always false: see the README
}

// backupCommand is `grapevine backup DIR`.
func backupCommand() *cli.Command {
	return &cli.Command{
		Name:      "backup",
		Usage:     "back up the whole peer (one consistent snapshot) into a new directory",
		ArgsUsage: "DIR",
		Description: "Asks the running daemon for a backup of its database, taken from one snapshot while\n" +
			"it keeps serving, and writes DIR/" + backupFile + " and DIR/" + backupManifest + " (checksum). The\n" +
			"peer's identity key is not included: a restored peer starts with a new identity. The\n" +
			"backup is not encrypted, even from an encrypted peer. Restore with grapevine restore.\n\n" +
			"Example: grapevine backup /backups/grapevine-$(date +%F)",
		Flags: clientFlags(),
		Action: clientAction("DIR", 1, 1, func(c *cli.Context, ctx context.Context, cl *client.Client) error {
			dir := c.Args().First()
			if _, err := os.Stat(filepath.Join(dir, backupManifest)); err == nil {
				return &exitError{code: 1, msg: fmt.Sprintf("%s already holds a backup; choose a new directory", dir)}
			}
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			started := time.Now().UTC()
			body, peerID, err := cl.Backup(ctx)
			if err != nil {
				return err
			}
			defer body.Close()
			m := manifest{Format: backupFormat, Version: backupVersion, Peer: peerID, Created: started.Format(time.RFC3339)}
			bar := newProgress(c.App.ErrWriter, "received", -1)
			if m.Bytes, m.SHA256, err = writeSynced(filepath.Join(dir, backupFile), &progressReader{r: body, bar: bar}); err != nil {
				bar.done()
				return &exitError{code: 1, msg: fmt.Sprintf("the backup is incomplete (%v); %s is not usable", err, dir)}
			}
			bar.done()
			js, _ := json.MarshalIndent(m, "", "  ")
			if _, _, err := writeSynced(filepath.Join(dir, backupManifest), bytes.NewReader(append(js, '\n'))); err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			fmt.Fprintf(c.App.Writer, "backed up peer %s into %s (%s)\n", peerID, dir, humanBytes(m.Bytes))
			return nil
		}),
	}
}

// restoreCommand is `grapevine restore DIR`.
func restoreCommand() *cli.Command {
	return &cli.Command{
		Name:      "restore",
		Usage:     "restore a backup into a new data directory (the daemon not running)",
		ArgsUsage: "DIR",
		Description: "Checks the backup in DIR against its manifest and loads it into the database of --data,\n" +
			"which must not hold one yet (move an old one away first). Then start the daemon on --data: it\n" +
			"has every state, tombstone and sync mark of the backup, under a new identity, and catches up\n" +
			"with its peers by anti-entropy (pull-first if the backup is older than the tombstone grace).\n" +
			"--encryption-key-file encrypts the restored database.\n\n" +
			"Example: grapevine restore --data /var/lib/grapevine /backups/grapevine-2024-05-01",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "data", EnvVars: []string{"GRAPEVINE_DATA"}, Value: defaultDataDir(), Usage: "the new peer's data `DIR`"},
			&cli.StringFlag{Name: "encryption-key-file", EnvVars: []string{"GRAPEVINE_ENCRYPTION_KEY_FILE"}, Usage: "encrypt the restored database with the key in `FILE`"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return &exitError{code: 2, msg: "usage: grapevine restore [--data DIR] BACKUPDIR"}
			}
			return restore(c, c.Args().First(), c.String("data"))
		},
	}
}

func restore(c *cli.Context, dir, data string) error {
	js, err := os.ReadFile(filepath.Join(dir, backupManifest))
	if err != nil {
		return &exitError{code: 1, msg: fmt.Sprintf("%s holds no complete backup: %v", dir, err)}
	}
	var m manifest
	if err := json.Unmarshal(js, &m); err != nil || m.Format != backupFormat {
		return &exitError{code: 1, msg: fmt.Sprintf("%s/%s is not a grapevine backup manifest", dir, backupManifest)}
	}
	if m.Version != backupVersion {
		return &exitError{code: 1, msg: fmt.Sprintf("backup format version %d; this grapevine restores version %d", m.Version, backupVersion)}
	}
	name := filepath.Join(dir, backupFile)
	if err := checkSum(name, m); err != nil {
		return &exitError{code: 1, msg: err.Error()}
	}
	cfg := storage.DefaultConfig()
	if file := c.String("encryption-key-file"); file != "" {
		if cfg.EncryptionKey, _, err = readEncryptionKeyFile(file); err != nil {
			return &exitError{code: 2, msg: err.Error()}
		}
	}
	if err := os.MkdirAll(data, 0o700); err != nil {
		return &exitError{code: 1, msg: err.Error()}
	}
	unlock, err := api.LockDataDir(data)
	if err != nil {
		return &exitError{code: 1, msg: err.Error()}
	}
	defer unlock()
	f, err := os.Open(name)
	if err != nil {
		return &exitError{code: 1, msg: err.Error()}
	}
	defer f.Close()
	db := node.DatabaseDir(data)
	if err := storage.Restore(db, cfg, f); err != nil {
		if errors.Is(err, storage.ErrInvalidArgument) {
			return &exitError{code: 1, msg: fmt.Sprintf("%s already holds a database; restore into a new data directory (move this one away first)", db)}
		}
		_ = os.RemoveAll(db)
		return &exitError{code: 1, msg: fmt.Sprintf("restore failed, nothing kept: %v", err)}
	}
	fmt.Fprintf(c.App.Writer, "restored the backup of peer %s (taken %s) into %s; the daemon started there gets a new identity\n", m.Peer, m.Created, data)
	return nil
}

// checkSum verifies the backup file against its manifest.
func checkSum(name string, m manifest) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return err
	}
	if n != m.Bytes || hex.EncodeToString(h.Sum(nil)) != m.SHA256 {
		return fmt.Errorf("%s does not match its manifest (size or SHA-256): the backup is damaged", name)
	}
	return nil
}

// writeSynced writes r to name through a temporary file, fsynced and
// renamed into place, and returns its size and SHA-256.
func writeSynced(name string, r io.Reader) (int64, string, error) {
	tmp, err := os.CreateTemp(filepath.Dir(name), filepath.Base(name)+".tmp*")
	if err != nil {
		return 0, "", err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), r)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), name)
	}
	return n, hex.EncodeToString(h.Sum(nil)), err
}

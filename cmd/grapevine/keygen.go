package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/urfave/cli/v2"
)

// swarmKeyLen is the length of a private network key, in bytes.
const swarmKeyLen = 32

func keygenCommand() *cli.Command {
	return &cli.Command{
		Name:  "keygen",
		Usage: "print a new key: swarm (private network) or encryption (data at rest)", ArgsUsage: "swarm|encryption",
		Description: "Example:\n  umask 077; grapevine keygen swarm > swarm.key",
		Subcommands: []*cli.Command{keygenEncryptionCommand(), {
			Name:  "swarm",
			Usage: "print a new private network key (swarm.key format) to stdout",
			Description: "Prints a fresh random 32-byte key in the libp2p/IPFS swarm.key format. Example, to save it\n" +
				"  umask 077; grapevine keygen swarm > swarm.key\n" +
				"(mode 0600: whoever holds the key can join the network), copy it to every peer over a\n" +
				"secure channel and start each with --swarm-key swarm.key. QUIC is off with a swarm key.",
			Action: func(c *cli.Context) error {
				if c.NArg() > 0 {
					return &exitError{code: 2, msg: fmt.Sprintf("keygen swarm takes no arguments, got %q", c.Args().Slice())}
				}
				key := make([]byte, swarmKeyLen)
				if _, err := rand.Read(key); err != nil {
					return fmt.Errorf("reading random bytes: %w", err)
				}
				_, err := fmt.Fprintf(c.App.Writer, "/key/swarm/psk/1.0.0/\n/base16/\n%s\n", hex.EncodeToString(key))
				return err
			},
		}},
	}
}

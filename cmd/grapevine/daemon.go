package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/grapevine-kv/grapevine/api"
	"github.com/grapevine-kv/grapevine/node"
	"github.com/grapevine-kv/grapevine/peer"
	"github.com/grapevine-kv/grapevine/storage"
	libp2ppeer "github.com/libp2p/go-libp2p/core/peer"
	"github.com/urfave/cli/v2"
)

// DefaultAPIAddr is where the daemon serves its HTTP API by default.
const DefaultAPIAddr = "127.0.0.1:4100"

func daemonCommand() *cli.Command {
	return &cli.Command{
		Name:  "daemon",
		Usage: "run a peer",
		Description: "Runs a grapevine peer: stores data in --data, listens for peers on --listen, serves the\n" +
			"HTTP API on --api, and joins a network through --bootstrap (or peers it remembers, or mDNS).\n" +
			"Peers of another --network are refused. With --swarm-key only peers holding the same key can\n" +
			"connect, over TCP only (QUIC is off); with --allow-peers only the listed peer IDs can.\n" +
			"SIGINT or SIGTERM stops it (open watches end at once); a second one exits immediately.\n\n" +
			"Examples:\n  grapevine daemon\n  grapevine daemon --data ~/peer2 --api 127.0.0.1:4200 --listen /ip4/0.0.0.0/tcp/4201 --bootstrap /ip4/10.0.0.1/tcp/4101/p2p/12D3KooW...\n\n" +
			configPrecedence,
		Flags:  daemonFlags(),
		Action: runDaemon,
	}
}

// daemonFlags are the daemon's flags (also taken by `config show`).
func daemonFlags() []cli.Flag {
	def := node.DefaultConfig()
	return []cli.Flag{
		configFlag,
		&cli.StringFlag{Name: "data", EnvVars: []string{"GRAPEVINE_DATA"}, Value: defaultDataDir(), Usage: "data directory (database, identity, known peers)"},
		&cli.StringSliceFlag{Name: "listen", EnvVars: []string{"GRAPEVINE_LISTEN"}, Value: cli.NewStringSlice(def.Peer.ListenAddrs...), Usage: "libp2p listen `MULTIADDR` (repeatable; port 0 picks a free port)"},
		&cli.StringFlag{Name: "api", EnvVars: []string{"GRAPEVINE_API_LISTEN"}, Value: DefaultAPIAddr, Usage: "HTTP API listen address `HOST:PORT` (port 0 picks a free port); the web dashboard is at /ui/ on it"},
		// API tokens and TLS (security.go).
		&cli.StringFlag{Name: "api-token-file", EnvVars: []string{"GRAPEVINE_API_TOKEN_FILE"}, Usage: "API tokens, one a line: `FILE` of <token> <read|write> [namespace-pattern ...]; re-read on SIGHUP"},
		&cli.BoolFlag{Name: "insecure-api", EnvVars: []string{"GRAPEVINE_INSECURE_API"}, Usage: "allow --api and every other door (--resp, --grpc) beyond loopback without --api-token-file (anyone who reaches it may read and write everything)"},
		// The Redis protocol door (resp.go).
		&cli.StringFlag{Name: "resp", EnvVars: []string{"GRAPEVINE_RESP"}, Usage: "also serve the Redis protocol (RESP2) on `HOST:PORT`, e.g. 127.0.0.1:6380 (off by default); AUTH takes an API token"},
		&cli.StringSliceFlag{Name: "resp-databases", EnvVars: []string{"GRAPEVINE_RESP_DATABASES"}, Value: cli.NewStringSlice(node.DefaultNamespace), Usage: "the namespaces SELECT 0, 1, ... reaches over --resp, `NS[,NS...]` (NS name reaches any namespace)"},
		// The gRPC door (grpc.go).
		grpcFlag,
		pprofFlag,
		&cli.StringFlag{Name: "api-tls-cert", EnvVars: []string{"GRAPEVINE_API_TLS_CERT"}, Usage: "serve the API over HTTPS with this PEM certificate `FILE` (with --api-tls-key)"},
		&cli.StringFlag{Name: "api-tls-key", EnvVars: []string{"GRAPEVINE_API_TLS_KEY"}, Usage: "PEM private key `FILE` of --api-tls-cert"},
		&cli.StringSliceFlag{Name: "bootstrap", EnvVars: []string{"GRAPEVINE_BOOTSTRAP"}, Usage: "peer `MULTIADDR` ending in /p2p/<id> to join through (repeatable, or comma-separated)"},
		&cli.StringFlag{Name: "network", EnvVars: []string{"GRAPEVINE_NETWORK"}, Value: def.Network, Usage: "network `NAME`: peers of other networks are ignored"},
		&cli.StringFlag{Name: "swarm-key", EnvVars: []string{"GRAPEVINE_SWARM_KEY"}, Usage: "private network key `FILE` (swarm.key format, make one with `grapevine keygen swarm`): only peers holding the same key can connect; QUIC is off with a swarm key (TCP only)"},
		&cli.StringFlag{Name: "allow-peers", EnvVars: []string{"GRAPEVINE_ALLOW_PEERS"}, Usage: "allowlist `FILE`: one peer ID per line ('#' comments); only those peers may connect; reloaded on SIGHUP and when the file changes"},
		&cli.StringSliceFlag{Name: "namespaces", EnvVars: []string{"GRAPEVINE_NAMESPACES"}, Value: cli.NewStringSlice(def.Namespaces...), Usage: "replicate only the namespaces matching these `PATTERNS` (comma-separated globs: tenant-*,a); requests for others are forwarded to a peer that holds them"},
		&cli.BoolFlag{Name: "mdns", EnvVars: []string{"GRAPEVINE_MDNS"}, Value: def.Peer.MDNS, Usage: "find peers on the local network with mDNS"},
		&cli.BoolFlag{Name: "sync", EnvVars: []string{"GRAPEVINE_SYNC"}, Value: def.Storage.SyncWrites, Usage: "fsync every commit (off trades durability on power loss for speed)"},
		&cli.DurationFlag{Name: "tombstone-grace", EnvVars: []string{"GRAPEVINE_TOMBSTONE_GRACE"}, Value: def.Storage.TombstoneGrace, Usage: "keep tombstones this `DURATION`, then purge them; a peer away longer rejoins pull-first (it offers its older states only after syncing with an up-to-date peer); use the same value on every peer"},
		onDamageFlag,
		&cli.IntFlag{Name: "changelog-entries", EnvVars: []string{"GRAPEVINE_CHANGELOG_ENTRIES"}, Value: def.Storage.ChangeLogEntries, Usage: "keep the last `N` changes in the change log, from which a watch resumes (`watch` after a disconnect, GET /v1/watch?since=); a watcher further behind re-reads the keys"},
		&cli.IntFlag{Name: "max-value-size", EnvVars: []string{"GRAPEVINE_MAX_VALUE_SIZE"}, Value: def.MaxValueSize, Usage: fmt.Sprintf("largest value accepted, in `BYTES`, at most %d (32 MiB); values above 1 MiB are not gossiped but sent by anti-entropy at once; give every peer the same limit (a peer is not sent values above its own)", node.MaxValueSizeLimit)},
		&cli.StringFlag{Name: "log-format", EnvVars: []string{"GRAPEVINE_LOG_FORMAT"}, Value: "text", Usage: "log format: text or json"},
		&cli.StringFlag{Name: "log-level", EnvVars: []string{"GRAPEVINE_LOG_LEVEL"}, Value: "info", Usage: "log `LEVEL`: debug, info, warn or error"},
		// Encryption at rest.
		&cli.StringFlag{Name: "encryption-key-file", EnvVars: []string{"GRAPEVINE_ENCRYPTION_KEY_FILE"}, Usage: "encrypt the database with the AES key in `FILE`: 64 hex characters (grapevine keygen encryption) or 16, 24 or 32 raw bytes; the data directory then always needs it"},
		// Writer lists (signed namespaces).
		&cli.StringSliceFlag{Name: "writers", EnvVars: []string{"GRAPEVINE_WRITERS"}, Usage: "give a namespace a writer list, `NAMESPACE=ID[,ID...]` (repeatable; in the env var separate namespaces with ';'): only those peers may write it, every state there is signed and verified"},
		&cli.BoolFlag{Name: "test-hooks", Hidden: true, Usage: "serve the test-only fault-injection endpoints /v1/test/* (partitions, clock skew); never in production"},
		&cli.DurationFlag{Name: "test-pull-first-wait", Hidden: true, Usage: "take over a namespace after pulling first this `DURATION` without meeting an up-to-date peer (default 10m); for short chaos runs only"},
		&cli.BoolFlag{Name: "test-isolated", Hidden: true, Usage: "start refusing every peer until POST /v1/test/isolate?on=false (needs --test-hooks)"},
	}
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level must be debug, info, warn or error, not %q", level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format must be text or json, not %q", format)
}

// splitList flattens repeatable flags whose values may also be comma-separated.
func splitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// readSwarmKey reads a private network key file (swarm.key format).
func readSwarmKey(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--swarm-key: %w", err)
	}
	defer f.Close()
	key, err := peer.DecodePrivateNetworkKey(f)
	if err != nil {
		return nil, fmt.Errorf("--swarm-key %s: %w (make a key with `grapevine keygen swarm > swarm.key`)", path, err)
	}
	return key, nil
}

func runDaemon(c *cli.Context) error {
	if c.NArg() > 0 {
		return &exitError{code: 2, msg: fmt.Sprintf("daemon takes no arguments, got %q", c.Args().Slice())}
	}
	if _, err := applyConfigFile(c); err != nil {
		return err
	}
	log, err := newLogger(c.App.ErrWriter, c.String("log-format"), c.String("log-level"))
	if err != nil {
		return &exitError{code: 2, msg: err.Error()}
	}
	setSoftMemoryLimit(log)
	cfg := node.DefaultConfig()
	cfg.DataDir = c.String("data")
	cfg.Network = c.String("network")
	cfg.Storage.SyncWrites = c.Bool("sync")
	cfg.MaxValueSize = c.Int("max-value-size")
	cfg.Storage.TombstoneGrace = c.Duration("tombstone-grace")
	cfg.Storage.PurgeInterval = storage.PurgeIntervalFor(cfg.Storage.TombstoneGrace)
	cfg.Storage.ChangeLogEntries = c.Int("changelog-entries")
	if cfg.QuarantineDamaged, err = onDamage(c); err != nil {
		return err
	}
	if w := c.Duration("test-pull-first-wait"); w > 0 {
		cfg.AntiEntropy.PullFirstWait = w
	}
	cfg.Logger = log
	cfg.Peer.ListenAddrs = splitList(c.StringSlice("listen"))
	cfg.Peer.Bootstrap = splitList(c.StringSlice("bootstrap"))
	cfg.Peer.MDNS = c.Bool("mdns")
	cfg.Peer.UserAgent = userAgent()
	// Encryption at rest: the key is never logged.
	if f := c.String("encryption-key-file"); f != "" {
		key, perm, err := readEncryptionKeyFile(f)
		if err != nil {
			return &exitError{code: 2, msg: err.Error()}
		}
		if perm&0o077 != 0 {
			log.Warn("the encryption key file is accessible to group or others; chmod 600 it", "file", f, "mode", perm.String())
		}
		cfg.Storage.EncryptionKey = key
	}
	if path := c.String("swarm-key"); path != "" {
		key, err := readSwarmKey(path)
		if err != nil {
			return &exitError{code: 2, msg: err.Error()}
		}
		cfg.Peer.PrivateNetworkKey = key
	}
	cfg.Peer.AllowPeersFile = c.String("allow-peers")
	cfg.Namespaces = c.StringSlice("namespaces")
	if cfg.Writers, err = parseWriters(c.StringSlice("writers")); err != nil {
		return &exitError{code: 2, msg: err.Error()}
	}
	var hooks *api.TestHooks // test-only fault injection (internal/chaos)
	if c.Bool("test-hooks") {
		hooks = api.NewTestHooks()
		cfg.Wall = hooks.Wall
		log.Warn("test hooks on: /v1/test/* can partition this peer and skew its clock; never use in production")
	} else if c.Bool("test-isolated") {
		return &exitError{code: 2, msg: "--test-isolated needs --test-hooks"}
	}
	apiOpts, tokens, err := apiSecurity(c, log)
	if err != nil {
		return err
	}
	respLn, err := respListen(c, tokens != nil, log)
	if err != nil {
		return err
	}
	if respLn != nil {
		defer respLn.Close()
	}
	pprofOpts, err := pprofDoor(c, log)
	if err != nil {
		return err
	}
	grpcLn, err := listenGRPC(c, log, tokens)
	if err != nil {
		return err
	}
	if grpcLn != nil {
		defer grpcLn.Close() // if the door never ran; closing twice is harmless
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("creating the data directory: %w", err)
	}
	unlock, err := api.LockDataDir(cfg.DataDir)
	var inUse *api.InUseError
	if errors.As(err, &inUse) {
		return &exitError{code: 1, msg: inUse.Error()}
	}
	if err != nil {
		return err
	}
	defer unlock()
	ctx, stop := stopOnSignal(c.Context, log, c.App.ErrWriter)
	defer stop()
	n, err := node.New(ctx, cfg)
	if errors.Is(err, peer.ErrListenAddrInUse) {
		return &exitError{code: 1, msg: detail(err, peer.ErrListenAddrInUse, "peer: ")}
	}
	if errors.Is(err, storage.ErrEncryptionKeyMismatch) {
		msg := detail(err, storage.ErrEncryptionKeyMismatch, "storage: ")
		keyFile := "no --encryption-key-file"
		if f := c.String("encryption-key-file"); f != "" {
			keyFile = "key from " + f
		}
		return &exitError{code: 1, msg: fmt.Sprintf("%s (data directory %s, %s); nothing was changed", msg, cfg.DataDir, keyFile)}
	}
	if errors.Is(err, storage.ErrDamaged) {
		return damageRefused(err, cfg.DataDir)
	}
	if err != nil {
		return err
	}
	if c.Bool("test-isolated") {
		n.Peer().Isolate(true)
	}
	defer reloadOnHUP(ctx, log, n.Peer(), tokens)()
	if respLn != nil {
		door, err := respDoor(c, n, respLn, tokens, log)
		if err != nil {
			_ = n.Close()
			return err
		}
		apiOpts = append(apiOpts, door)
	}
	log.Info("starting grapevine", "version", versionString(), "pid", os.Getpid(), "data", cfg.DataDir, "network", cfg.Network, "encrypted", len(cfg.Storage.EncryptionKey) > 0)
	apiOpts = append(apiOpts, grpcDoor(grpcLn, n, cfg.MaxValueSize, tokens, log)...)
	apiOpts = append(apiOpts, pprofOpts...)
	err = api.Serve(ctx, n, c.String("api"), cfg.DataDir, cfg.MaxValueSize, log, nil, append(apiOpts, hooks.ServeOptions()...)...)
	log.Info("stopped")
	return err
}

// detail returns err's message from sentinel's words on: the sentinel's
// words and detail, without the layers' prefixes before it nor the
// sentinel's package prefix.
func detail(err, sentinel error, prefix string) string {
	msg := err.Error()
	if i := strings.Index(msg, sentinel.Error()); i >= 0 {
		msg = msg[i:]
	}
	return strings.TrimPrefix(msg, prefix)
}

// parseWriters parses --writers values, NAMESPACE=ID[,ID...] each (several
// separated by ';' too, for the env var), into node.Config.Writers. The
// flag library splits values at commas, so an ID without "NAMESPACE="
// belongs to the namespace named before it. A namespace given twice gets
// the union of its lists. node.Config.Validate checks the names and the
// IDs' keys.
func parseWriters(vals []string) (map[string][]libp2ppeer.ID, error) {
	var w map[string][]libp2ppeer.ID
	ns := ""
	for _, v := range vals {
		for j, entry := range strings.Split(v, ";") {
			if j > 0 {
				ns = "" // a ';' ends a namespace's list
			}
			for _, tok := range strings.Split(entry, ",") {
				if tok = strings.TrimSpace(tok); tok == "" {
					continue
				}
				if name, id, ok := strings.Cut(tok, "="); ok {
					ns, tok = strings.TrimSpace(name), strings.TrimSpace(id)
					if ns == "" || tok == "" {
						return nil, fmt.Errorf("--writers wants NAMESPACE=ID[,ID...], got %q", entry)
					}
				} else if ns == "" {
					return nil, fmt.Errorf("--writers wants NAMESPACE=ID[,ID...], got %q", entry)
				}
				id, err := libp2ppeer.Decode(tok)
				if err != nil {
					return nil, fmt.Errorf("--writers %s: %q is not a peer ID: %w", ns, tok, err)
				}
				if w == nil {
					w = make(map[string][]libp2ppeer.ID)
				}
				w[ns] = append(w[ns], id)
			}
		}
	}
	return w, nil
}

# grapevine — a leaderless peer-to-peer replicated key-value store.
# `make` (or `make help`) lists the targets.

GO        ?= go
BIN       := bin/grapevine
PKGS      := ./...
FUZZTIME  ?= 10s
BENCHTIME ?= 1s
BENCH     ?= .
ARGS      ?=
DURATION  ?= 10m
SEED      ?= 1
CHAOS_FLAGS ?=
# BENCH_SECONDS is how long bench-compare runs each measurement, and
# BENCH_RUNS how many rounds of them it takes medians of.
BENCH_SECONDS ?= 5
BENCH_RUNS ?= 3
# VERSION is what `grapevine version` and the identify agent string report.
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo unknown)

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build the grapevine binary into bin/, stamped with VERSION (default: git describe)
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/grapevine

.PHONY: run
run: build ## Build and start a peer on its defaults (data in ~/.grapevine; ARGS="--data DIR" etc.)
	./$(BIN) daemon $(ARGS)

.PHONY: demo
demo: build ## Start three local peers, put on one, read on the others, stop them
	./internal/demo/demo.sh $(BIN)

.PHONY: test
test: test-deps generate-check ## Vet, lint, check go.mod is tidy and generated code current, check layering and docs, run every test with the race detector, the 100-peer test without it, and a short chaos run
	$(GO) vet $(PKGS)
	$(GO) tool staticcheck $(PKGS)
	$(GO) mod tidy -diff
	$(GO) test -count=1 ./internal/deptest/
	$(GO) test -race -count=1 -timeout 15m $(PKGS)
	$(GO) test -count=1 -v -timeout 5m -run '^TestScale100Peers$$' ./node/
	$(MAKE) --no-print-directory chaos DURATION=70s CHAOS_FLAGS=--short

.PHONY: test-scale
test-scale: ## Issue 15 proof 1 with its timing bounds asserted (for an idle machine): 100 in-process peers on a mocknet with 5-20 ms links; prints the figures
	GRAPEVINE_SCALE_STRICT=1 $(GO) test -count=1 -v -timeout 5m -run '^TestScale100Peers$$' ./node/

.PHONY: scale
scale: build scale-deps ## Issue 15 proof 2: 30 daemons in Linux network namespaces (as root; skipped otherwise): forwarding, kill 10, restart, converge; prints times, bytes and CPU per peer
	./internal/scale/netns.sh $(BIN)

.PHONY: scale-deps
scale-deps: ## Install iproute2, curl, jq and bc for make scale when missing (as root on Debian)
	@missing=; for tp in ip:iproute2 curl:curl jq:jq bc:bc; do \
	  command -v $${tp%%:*} >/dev/null 2>&1 || missing="$$missing $${tp#*:}"; \
	done; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "scale: installing$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

.PHONY: bench
bench: ## Run the benchmarks (BENCH=regexp, BENCHTIME=1s); compare runs with `go tool benchstat`
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchtime $(BENCHTIME) -benchmem $(PKGS)

.PHONY: bench-resp
bench-resp: build ## redis-benchmark (set,get; 50 clients) against grapevine --resp and a Redis with appendfsync always, and the ratio (installs redis-server as root)
	@for tp in redis-server:redis-server redis-benchmark:redis-tools redis-cli:redis-tools; do \
	  command -v $${tp%%:*} >/dev/null 2>&1 && continue; \
	  if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then \
	    echo "bench-resp: needs $${tp#*:}; install it (as root: apt-get install $${tp#*:})"; exit 1; \
	  fi; \
	  echo "bench-resp: installing $${tp#*:}"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $${tp#*:} >/dev/null; \
	done
	./internal/bench/resp.sh $(BIN)

.PHONY: bench-memory
bench-memory: build ## A daemon's memory holding KEYS keys (default 1M) and over a DURATION steady load (default 10m): RSS (and its file-backed part) and Go heap from /metrics; MEMORY_LIMIT=300M runs the daemon in a memory cgroup
	./internal/bench/memory.sh $(BIN)

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME each (default 10s)
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

.PHONY: lint
lint: ## go vet and staticcheck
	$(GO) vet $(PKGS)
	$(GO) tool staticcheck $(PKGS)

.PHONY: tidy-check
tidy-check: ## Fail if go.mod or go.sum is not tidy
	$(GO) mod tidy -diff

# PROTO_GEN runs protoc on the gRPC API's .proto with the plugins pinned in
# go.mod (go tool -n builds them once and prints their path), writing the Go
# code under $(1) by its import path (api/grpcapi/kvpb).
PROTO_GEN = protoc -I api/grpcapi/proto \
	--plugin=protoc-gen-go=$$($(GO) tool -n protoc-gen-go) \
	--plugin=protoc-gen-go-grpc=$$($(GO) tool -n protoc-gen-go-grpc) \
	--go_out=$(1) --go_opt=module=github.com/grapevine-kv/grapevine \
	--go-grpc_out=$(1) --go-grpc_opt=module=github.com/grapevine-kv/grapevine \
	grapevine/v1/kv.proto

.PHONY: generate
generate: test-deps ## Regenerate the gRPC code (api/grpcapi/kvpb) from api/grpcapi/proto with protoc
	$(call PROTO_GEN,.)

.PHONY: generate-check
generate-check: test-deps ## Fail if the generated gRPC code is not what make generate writes
	@tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; \
	$(call PROTO_GEN,$$tmp) && \
	if ! diff -r -I '^// .*protoc  *v[0-9]' $$tmp/api/grpcapi/kvpb api/grpcapi/kvpb --exclude=doc.go >/dev/null; then \
	  diff -r -I '^// .*protoc  *v[0-9]' $$tmp/api/grpcapi/kvpb api/grpcapi/kvpb --exclude=doc.go | head -20; \
	  echo "generate-check: api/grpcapi/kvpb is not what api/grpcapi/proto generates: run make generate and commit"; exit 1; \
	fi

.PHONY: chaos
chaos: build chaos-deps ## Fault-injection run over real peers (DURATION=10m SEED=1); fails unless RESULT: VALID
	$(GO) build -o bin/grapevine-chaos ./cmd/grapevine-chaos
	./bin/grapevine-chaos --bin $(BIN) --duration $(DURATION) --seed $(SEED) $(CHAOS_FLAGS)

.PHONY: chaos-controls
chaos-controls: build chaos-deps ## Negative controls: each broken build (or --sync=false under power loss) must make chaos report INVALID
	$(GO) build -o bin/grapevine-chaos ./cmd/grapevine-chaos
	@set -e; for t in broken_merge wallclock_lww skip_verify no_pullfirst drop_big default_ns_only no_backfill cas_unchecked ttl_ignored remove_wins txn_first_only; do \
	  $(GO) build -tags grapevine_$$t -o bin/grapevine-$$(echo $$t | tr _ -) ./cmd/grapevine; \
	done
	@n=0; for cc in broken-merge: wallclock-lww: skip-verify: no-pullfirst:resurrect drop-big:big-values default-ns-only:lww no-backfill:joiner cas-unchecked:cas ttl-ignored:ttl remove-wins:sets txn-first-only:txn no-fsync:durability; do \
	  c=$${cc%%:*}; chk=$${cc#*:}; bin=bin/grapevine-$$c; extra=; \
	  if [ $$c = no-fsync ]; then bin=$(BIN); extra=--daemon-flag=--sync=false; fi; \
	  echo "== negative control $$c: must report RESULT: INVALID$${chk:+, with $$chk INVALID}"; \
	  out=$$(./bin/grapevine-chaos --short --duration 40s --skew-prob 1 --seed $(SEED) --bin $$bin $$extra --quiet); rc=$$?; \
	  echo "$$out"; \
	  if [ $$rc -ne 1 ]; then echo "negative control $$c: exit $$rc, want 1 (INVALID)"; exit 1; fi; \
	  if [ -n "$$chk" ] && ! echo "$$out" | grep -Eq "^  $$chk +INVALID"; then echo "negative control $$c: the $$chk checker did not fail"; exit 1; fi; \
	  n=$$((n+1)); \
	done; echo "negative controls: all $$n INVALID, as they must be"

# TEST_TOOLS are the programs the tests drive, each with its Debian package
# (command:package): real clients of each door.
TEST_TOOLS := redis-cli:redis-tools chromium:chromium protoc:protobuf-compiler

.PHONY: test-deps
test-deps: ## Install what the tests drive (redis-cli, Chromium, protoc) from Debian's packages when missing (as root)
	@missing=; for tp in $(TEST_TOOLS); do \
	  command -v $${tp%%:*} >/dev/null 2>&1 || missing="$$missing $${tp#*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then \
	    echo "test-deps: the tests need these Debian packages:$$missing; install them (as root: apt-get install$$missing)"; exit 1; \
	  fi; \
	  echo "test-deps: installing$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

.PHONY: chaos-deps
chaos-deps: ## Install nftables (root on Debian) so chaos partitions drop packets; without it they use the connection gater
	@if [ "$$(id -u)" = 0 ] && ! command -v nft >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then \
	  echo "chaos: installing nftables for partitions"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nftables >/dev/null) || \
	  echo "chaos: could not install nftables; partitions will use the connection gater"; \
	fi

# BENCH_TOOLS are the programs bench-compare drives, each with its Debian
# package (command:package).
BENCH_TOOLS := wrk:wrk redis-server:redis-server redis-benchmark:redis-tools redis-cli:redis-tools etcd:etcd-server

.PHONY: bench-compare
bench-compare: build ## grapevine (HTTP via wrk, RESP if built in), etcd (1 member) and Redis (appendfsync always) side by side, and raw fdatasync: one table of medians (BENCH_RUNS=3 rounds, BENCH_SECONDS=5 per measurement; installs the servers as root; not in `make test`)
	@missing=; for tp in $(BENCH_TOOLS); do \
	  command -v $${tp%%:*} >/dev/null 2>&1 || missing="$$missing $${tp#*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then \
	    echo "bench-compare: needs these Debian packages:$$missing; install them (as root: apt-get install$$missing)"; exit 1; \
	  fi; \
	  echo "bench-compare: installing$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	cd internal/bench/etcdbench && $(GO) build -o ../../../bin/etcdbench .
	DURATION=$(BENCH_SECONDS) RUNS=$(BENCH_RUNS) ./internal/bench/compare.sh $(BIN) bin/etcdbench

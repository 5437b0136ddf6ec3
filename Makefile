# grapevine — a leaderless peer-to-peer replicated key-value store.
# `make` (or `make help`) lists the targets.

GO        ?= go
BIN       := bin/grapevine
PKGS      := ./...
FUZZTIME  ?= 10s
BENCHTIME ?= 1s
BENCH     ?= .
ARGS      ?=

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build the grapevine binary into bin/
	$(GO) build -o $(BIN) ./cmd/grapevine

.PHONY: run
run: build ## Build and start a peer on its defaults (data in ~/.grapevine; ARGS="--data DIR" etc.)
	./$(BIN) daemon $(ARGS)

.PHONY: demo
demo: build ## Start three local peers, put on one, read on the others, stop them
	./internal/demo/demo.sh $(BIN)

.PHONY: test
test: ## Vet, check layering and docs, and run every test with the race detector
	$(GO) vet $(PKGS)
	$(GO) test -count=1 ./internal/deptest/
	$(GO) test -race -count=1 -timeout 15m $(PKGS)

.PHONY: bench
bench: ## Run the benchmarks (BENCH=regexp, BENCHTIME=1s); compare runs with `go tool benchstat`
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchtime $(BENCHTIME) -benchmem $(PKGS)

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

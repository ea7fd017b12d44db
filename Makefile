# Goleudy: firmware for anycast DNS nodes. `make help` lists the targets.

GO        ?= go
BIN       := bin
FUZZTIME  ?= 30s
# Static binaries: goleudy-node is /init in an initramfs with no libc.
export CGO_ENABLED ?= 0
BOARD     ?= brix

.DEFAULT_GOAL := help
.PHONY: help build test lint fuzz bench clean image fetch

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

image: ## build the BRIX demo image for a demo fleet kept in build/demo-fleet (BOARD=brix; fetches pinned Debian packages first)
	$(GO) run ./tools/goleudy image build --board $(BOARD) --demo build/demo-fleet --out build/goleudy-$(BOARD)-demo.img

fetch: ## fetch every board's pinned Debian packages into the package cache (the tests read them from there)
	$(GO) run ./tools/goleudy image fetch

build: ## build bin/goleudy (operator CLI) and bin/goleudy-node (the node, /init in images)
	$(GO) build -trimpath -o $(BIN)/goleudy ./tools/goleudy
	$(GO) build -trimpath -o $(BIN)/goleudy-node ./init

test: ## run every test (needs root for the namespace and QEMU tiers; see .ci/run); screenshots land in test-artifacts/
	CGO_ENABLED=1 GOLEUDY_ARTIFACTS=$(CURDIR)/test-artifacts $(GO) test -race -count=1 -timeout 30m $$($(GO) list ./... | grep -v '/image/builder$$')
	@# image/builder builds whole images, sequentially: under -race its pure-Go
	@# compression and hashing run ten times slower and there is nothing to find.
	GOLEUDY_ARTIFACTS=$(CURDIR)/test-artifacts $(GO) test -count=1 -timeout 45m ./image/builder

lint: ## gofmt, go vet and staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

fuzz: ## run every fuzz target for FUZZTIME each (default 30s)
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; done

bench: build ## dnsperf against goleudy, NSD and Knot side by side; then the Go benchmarks (BenchmarkBGPGate: BGP up, withdraw and re-announce times against BIRD; needs root)
	$(GO) run ./tools/dnsbench -server 'goleudy=$(CURDIR)/$(BIN)/goleudy zone serve --listen {addr} --zones {zonesdir}'
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean: ## remove build output (build/demo-fleet too: its keys and node go with it)
	rm -rf $(BIN) build

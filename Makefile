# Developer shortcuts. CI runs .ci/run, which calls the same commands.
GO        ?= go
PKGS      ?= ./...
FUZZTIME  ?= 30s
BENCHTIME ?= 1x
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: all build test test-short test-integration lint fuzz bench demo clean

all: lint test build

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o bin/vigil ./cmd/vigil

test:
	$(GO) test $(PKGS)

test-short:
	$(GO) test -short $(PKGS)

# Needs real servers (Prometheus from Debian); .ci/run installs them.
test-integration:
	$(GO) test -tags integration -count=1 ./test/integration/...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

# Runs every Fuzz target for FUZZTIME each.
fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s $$pkg || exit 1; \
	  done; \
	done

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) $(PKGS)

demo:
	$(GO) run ./cmd/vigil serve --demo

clean:
	rm -rf bin vigil-data

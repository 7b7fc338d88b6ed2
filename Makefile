# latch — build, lint, test.  `make test` is what CI runs (via .ci/run).
SHELL := /bin/bash
GO ?= go
FUZZTIME ?= 10s
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)

.PHONY: all run build lint test fuzz bench clean

all: build

run:
	$(GO) run ./cmd/latch serve

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o bin/latch ./cmd/latch

# gofmt over every Go file outside .git and testdata directories.
lint:
	@echo "gofmt -l"; \
	out=$$(find . -path ./.git -prune -o -name testdata -prune -o -name '*.go' -print0 | xargs -0 -r gofmt -l) || { echo "gofmt failed"; exit 1; }; \
	if [ -n "$$out" ]; then echo "gofmt: these files need formatting (run gofmt -w):"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

test: export GOFLAGS := $(strip $(GOFLAGS) -buildvcs=false)
test: lint
	scripts/testenv.sh $(GO) test -race -count=1 -timeout 20m ./...

fuzz:
	FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

bench:
	scripts/bench/run.sh

clean:
	rm -rf bin/ latch-data/
	$(GO) clean -testcache

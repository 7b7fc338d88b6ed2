# latch — build, lint, test.  `make test` is what CI runs (via .ci/run).
SHELL := /bin/bash
GO ?= go
FUZZTIME ?= 10s
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)

.PHONY: all run build lint test e2e fuzz bench clean

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
	$(MAKE) e2e

# Browser tests (e2e/): Swagger UI at /api/docs/ and cookie mode, in
# Debian's Chromium driven by playwright-core (which downloads no browser).
# Chromium is installed when missing; under CI=true its absence fails.
CHROMIUM ?= /usr/bin/chromium
e2e: export GOFLAGS := $(strip $(GOFLAGS) -buildvcs=false)
e2e:
	@if ! command -v node >/dev/null || ! command -v npm >/dev/null; then source scripts/lib.sh && apt_install nodejs npm; fi
	@if [ ! -x "$(CHROMIUM)" ] && [ "$(CHROMIUM)" = /usr/bin/chromium ]; then source scripts/lib.sh && apt_install chromium; fi
	npm ci --prefix e2e --no-audit --no-fund
	CHROMIUM="$(CHROMIUM)" node --test e2e/

fuzz:
	FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

bench:
	scripts/bench/run.sh

clean:
	rm -rf bin/ latch-data/
	$(GO) clean -testcache

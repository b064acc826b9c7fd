# deepc — the two set-up commands are `make run` and `make test`.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
BIN     := bin/deepc
MODEL   ?= models/deepseek_v3.deep

.PHONY: build run test deps lint fuzz bench clean plugins proto

build:
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/deepc

TINY    ?= models/deepseek_v3_tiny.deep
PROMPT  ?= func (b *Buffer) Write(p []byte) (n int, err error) {

TRAIN_STEPS ?= 120

# The main job: DeepSeek-V3's statistics, computed from the DSL, and the
# per-pass timing of its compile; then the tiny model of the same
# architecture trained for a short while on the CPU (from deterministic
# weights, on the Go standard library's sources: no GPU, no download), and
# text generated from it.
run: build
	$(BIN) stats $(MODEL)
	$(BIN) compile $(MODEL) --timing
	rm -rf .cache/tiny-run # this target's own run from last time: train refuses a directory holding a run
	$(BIN) train $(TINY) --steps $(TRAIN_STEPS) --batch 4 --seq 64 --lr 3e-3 --warmup 10 --eval-every 40 --save-every 0 --out .cache/tiny-run
	$(BIN) generate $(TINY) --checkpoint .cache/tiny-run/step-$$(printf %06d $(TRAIN_STEPS)) --prompt "$(PROMPT)" --max-tokens 64 --temperature 0.8 --top-p 0.95 --seed 1

test: lint deps
	$(GO) test -count=1 ./...
	bash scripts/chaos-train.sh --kills 6 --steps 30

# Debian packages and fixtures the tests use (idempotent).
deps:
	bash scripts/deps.sh

# gofmt and go vet. vet's structtag check is off: participle's grammar lives
# in struct tags that are not key:"value" pairs.
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet -structtag=false ./...

# Longer fuzzing than the seed-corpus runs that `make test` does.
FUZZTIME ?= 60s
fuzz:
	$(GO) test -run XXX -fuzz FuzzCompile -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./dsl
	$(GO) test -run XXX -fuzz FuzzParse -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./ir

# The example pass plugins, into bin/plugins (see docs/plugins.md).
PLUGINS := $(notdir $(wildcard plugins/examples/*))
plugins:
	@mkdir -p bin/plugins
	CGO_ENABLED=0 $(GO) build -o bin/plugins/ $(addprefix ./plugins/examples/,$(PLUGINS))

# Regenerate the plugin protocol's Go code (installs protoc and the
# generators if missing; TestGeneratedCodeIsCurrent checks it in make test).
proto:
	bash scripts/proto.sh

bench:
	$(GO) test -run XXX -bench . -benchmem ./cmd/deepc ./runtime/tokenizer ./runtime/cpu

clean:
	rm -rf bin

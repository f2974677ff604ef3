# gpupipe's build and test entry points. `make test` is what CI runs (after `make setup`).

GO ?= go
PKGS := ./...

.PHONY: all setup test check vet race cli engine-proof nocgo cuda ptx build imgpipe bench gpu-bundle clean

all: build

## setup: install what building and testing need (apt packages, the CUDA toolkit, modules)
setup:
	scripts/setup.sh

## test: every check: format, vet, race tests, the pure-Go build, the cuda build, the PTX
test: check race cli engine-proof fma nocgo cuda ptx build

## check: gofmt and go vet, with and without the cuda tag
check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

## race: all tests with the race detector, but the command's: its tests mostly run the
## imgpipe binary (built without the detector) as a subprocess, and what they drive in-process
## is the pipeline that internal/job's race tests cover; under the detector they took five
## times as long, so they run without it (cli)
race:
	$(GO) test -race -count=1 $$($(GO) list $(PKGS) | grep -v '/cmd/imgpipe$$')

## cli: the command's tests (real subprocesses of the built binary, signals, queues, buckets)
cli:
	$(GO) test -count=1 ./cmd/imgpipe

## engine-proof: the test that a deliberately broken engine is caught (skipped under -race,
## whose data-race report would catch the bug first)
engine-proof:
	$(GO) test -count=1 -run 'Broken' ./gpu/engine

## fma: the kernels' Go code gives the same bytes when the compiler may fuse multiply-adds
## (GOAMD64=v3); skipped on CPUs without AVX2 and FMA, where such a binary cannot run
fma:
	@if grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo; then \
		echo "GOAMD64=v3 $(GO) test ./gpu/kernels/..."; GOAMD64=v3 $(GO) test -count=1 ./gpu/kernels/...; \
	else echo "fma: this CPU has no AVX2/FMA; skipped"; fi

## nocgo: the build without cgo (pure-Go JPEG path) compiles and passes its tests
nocgo:
	CGO_ENABLED=0 $(GO) build ./cmd/... ./examples/...
	CGO_ENABLED=0 $(GO) test -count=1 ./pipeline/... ./stages/... ./internal/... ./gpu/cpu ./gpu/device ./cmd/...

## cuda: vet and build with -tags cuda, compile its test binaries, run them on a mock driver
cuda:
	scripts/gpu-ci.sh

## ptx: the committed PTX (the image kernels', the tests' and the examples') assembles for
## sm_90 and matches what nvcc makes from its source (an example's TestPTXIsCurrent runs its
## go:generate line)
ptx:
	gpu/kernels/check-ptx.sh
	scripts/gen-test-ptx.sh --check
	@for f in examples/*/*.ptx; do echo "ptxas -arch=sm_90 $$f"; ptxas -arch=sm_90 -o /dev/null "$$f" || exit 1; done
	$(GO) test -count=1 -run '^TestPTX' ./examples/...

## build: every package, benchmark and example, and the imgpipe binary in build/
build:
	$(GO) build $(PKGS)
	$(GO) build -o build/imgpipe ./cmd/imgpipe

## imgpipe: the imgpipe binary in build/ (add -tags cuda for GPUs: make imgpipe TAGS=cuda)
imgpipe:
	$(GO) build $(if $(TAGS),-tags $(TAGS)) -o build/imgpipe ./cmd/imgpipe

## gpu-bundle: the binaries a GPU machine runs (see docs/GPU.md)
gpu-bundle:
	scripts/gpu-bundle.sh

clean:
	rm -rf build

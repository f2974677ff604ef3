// Package csrc holds the CUDA C sources of the image kernels (*.cu, common.cuh) and, when cgo
// is enabled, an emulator that compiles those same sources with g++ and runs them on the CPU.
//
// The sources are compiled three ways: nvcc turns them into the PTX that package kernels
// embeds (go generate in gpu/kernels), g++ compiles them here under emu.h, which stands in for
// the CUDA execution model, and the Go implementations in package kernels compute the same
// thing. Tests run every kernel through Launch and compare the bytes with the Go
// implementation. The emulator runs threads one after another and is meant for tests, not
// for speed.
package csrc

import "embed"

// Sources are the CUDA C sources. Embedding them also makes the Go build cache rebuild the
// emulator when a source changes: cgo tracks only the C and C++ files of a package, and a .cu
// file is neither.
//
//go:embed *.cu *.cuh
var Sources embed.FS

// Package kernels holds the image operations of gpupipe, each written twice: as a CUDA C
// kernel for the GPU (csrc/*.cu, compiled to the embedded PTX) and as a Go implementation
// that the CPU device runs. The two compute the same bytes.
//
// # Images
//
// The operations take the types of package gpu/raster: raster.Image (8-bit, interleaved,
// with 1, 3 or 4 channels and any row stride), raster.Tensor (float32, planar), and the
// raster.Orientation and raster.Filter the chain's steps are given.
//
// # Operations on the host
//
// Resize (antialiased when downscaling, with Box, Linear, CatmullRom or Lanczos3), Grey,
// ApplyCurve with Levels (brightness, contrast, gamma), Blur (Gaussian), Sharpen (unsharp
// mask) and Normalize are plain functions over images. Each runs on all cores, reads pixels
// through slices, and allocates nothing per pixel. Flips, rotations and transposes are
// raster.Orient, which the orient kernel's Go twin calls too.
//
// # Chains and plans
//
// A Chain lists operations for every image of a batch, built in Go or read from text by
// ParseChain (Chain.String writes that text back); Chain.Plan compiles it into kernel
// launches, fusing where it can (see Plan). Before any image arrives, a plan says what an
// image of a given size becomes (Plan.Shape), whether every output has one shape
// (Plan.FixedShape, for tensor shards), and how small a decoder may make an image
// (Plan.MinDecodeSize, for JPEG shrink-on-load).
//
// A Plan runs a batch on the host (Plan.Run), or is itself the work the overlap engine
// drives, for batches of type *Batch and results of type Output: Sizes, Pack, Enqueue and
// Result. One host→device copy carries the pixels, the launch descriptions and the filter
// tables; the intermediates live in device scratch memory sized per batch and reused across
// batches; Result copies each output out of the slot, and Plan.Views reads them in place
// instead. A Batch lays itself out once, so that its pixels may be dropped once packed
// (Batch.DropPixels). The kernels are looked up on the stream's device the first time a plan
// runs there. A batch fails as a whole if one image cannot be processed; Plan.Shape checks an
// image alone.
//
// # Kernels
//
// Every kernel takes (const Job* jobs, int n, const u8* src, u8* dst, const u8* tab) and
// runs one thread per output pixel over all images of a batch at once (csrc/common.cuh
// explains the layout). `go generate` runs gen-ptx.sh, which compiles each csrc/*.cu with
// nvcc for compute_75 into ptx/; check-ptx.sh assembles the PTX for sm_90 with ptxas and
// checks that it matches the sources. Package csrc compiles the same .cu files with g++
// under an emulation of the CUDA execution model, and the tests compare every kernel with
// its Go implementation byte for byte on random batches.
//
// # Exactness
//
// Filter weights, lookup tables and normalisation constants are computed once on the host,
// in float64, and travel to the device as float32 tables, so no transcendental function is
// ever evaluated on the GPU. What remains is float32 multiplication, addition and division
// in the same order everywhere, with fused multiply-add disabled (nvcc -fmad=false, GCC's
// fp-contract=off, and float32() conversions in Go, which stop the Go compiler from fusing
// on arm64 and on amd64 with GOAMD64=v3). Every one of these operations is correctly
// rounded in IEEE 754, so the results agree to the bit. Against an exact float64 evaluation
// of the same filters, Resize and Blur are within one level (rounding of a value within
// about 1e-5 of a half); colours of four-channel pixels whose filtered alpha is below 8 of
// 255 are exempt, since dividing by a nearly cancelled alpha amplifies any rounding.
//
// Four-channel images are resampled with premultiplied alpha. Hosts are assumed to be
// little-endian, as the GPU is.
package kernels

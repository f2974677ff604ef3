package main

import (
	_ "embed"
	"fmt"
	"sync"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/raster"
	"github.com/gpupipe/gpupipe/stages/imagebatch"
)

// The flags are gpu/kernels' (gen-ptx.sh): compute_75 PTX runs on every GPU a current driver
// supports, which compiles it for the chip at load time; the floating-point flags make float
// arithmetic round as Go's does, so that a kernel that uses it still computes the bytes of
// its Go implementation. This kernel is integer only, but copies of it may not be.
//
//go:generate nvcc -ptx -arch=compute_75 -fmad=false -prec-div=true -prec-sqrt=true -ftz=false -o vignette.ptx vignette.cu

// vignettePTX is vignette.cu compiled by go generate. CI checks that ptxas -arch=sm_90
// assembles it.
//
//go:embed vignette.ptx
var vignettePTX []byte

// kernelName is the kernel's extern "C" name in vignette.cu.
const kernelName = "example_vignette"

// registerVignette registers the kernel, in both its forms, once per process: a name can be
// registered only once.
var registerVignette = sync.OnceValue(func() error {
	return gpu.RegisterKernel(gpu.KernelSpec{
		Name: kernelName,
		PTX:  vignettePTX,
		Host: vignetteHost,
		// src, dst, width, height, channels, strength: launches with other kinds are refused.
		Args: []gpu.ArgKind{gpu.KindPtr, gpu.KindPtr, gpu.KindInt32, gpu.KindInt32, gpu.KindInt32, gpu.KindInt32},
	})
})

// vignetteHost is the kernel's Go implementation, which the CPU device runs: every thread of
// the grid, computing what the CUDA kernel computes, with the same integer arithmetic. It runs
// on one core; gpu/kernels' implementations split their rows between all cores, which is
// worth it where the CPU device does the real work rather than stand in for a GPU.
func vignetteHost(l *gpu.HostLaunch) error {
	src, err := l.Mem(0)
	if err != nil {
		return err
	}
	dst, err := l.Mem(1)
	if err != nil {
		return err
	}
	var dims [4]int32 // width, height, channels, strength
	for i := range dims {
		if dims[i], err = l.Int32(2 + i); err != nil {
			return err
		}
	}
	width, height, channels, strength := int(dims[0]), int(dims[1]), int(dims[2]), int64(dims[3])
	if n := width * height * channels; n > len(src) || n > len(dst) {
		return fmt.Errorf("%w: %s over %d×%d×%d bytes", gpu.ErrOutOfRange, kernelName, width, height, channels)
	}
	// The threads that exist: the grid may cover less than the image, or more.
	xs := min(width, threads(l.Grid.X, l.Block.X))
	ys := min(height, threads(l.Grid.Y, l.Block.Y))
	r2 := int64(width)*int64(width) + int64(height)*int64(height)
	colours := channels
	if channels == 4 {
		colours = 3
	}
	for y := range ys {
		dy := int64(2*y + 1 - height)
		for x := range xs {
			dx := int64(2*x + 1 - width)
			gain := 256 - int(strength*(dx*dx+dy*dy)/r2)
			i := (y*width + x) * channels
			for c := range colours {
				dst[i+c] = byte((int(src[i+c])*gain + 128) >> 8)
			}
			if channels == 4 {
				dst[i+3] = src[i+3]
			}
		}
	}
	return nil
}

// threads is the number of threads along one axis; a zero dimension counts as 1, as in
// gpu.Dim3.
func threads(grid, block int) int {
	return max(grid, 1) * max(block, 1)
}

// vignetteWork is the engine.Enqueuer that darkens every image of a batch: the images travel packed
// one after another, without row padding, and each gets one launch.
type vignetteWork struct {
	k        gpu.Kernel
	strength int
}

// newVignetteWork prepares the kernel on dev. strength, from 0 to 256, is how much the corners
// lose, in 256ths.
func newVignetteWork(dev gpu.Device, strength int) (vignetteWork, error) {
	if strength < 0 || strength > 256 {
		return vignetteWork{}, fmt.Errorf("vignette strength %d: want 0 to 256", strength)
	}
	if err := registerVignette(); err != nil {
		return vignetteWork{}, err
	}
	k, err := dev.Kernel(kernelName)
	return vignetteWork{k: k, strength: strength}, err
}

// Sizes: the output has the input's size; no scratch memory.
func (w vignetteWork) Sizes(b *imagebatch.Batch) (gpu.Sizes, error) {
	n := 0
	for _, img := range b.Images {
		if err := img.Check(); err != nil {
			return gpu.Sizes{}, err
		}
		n += packedLen(img)
	}
	return gpu.Sizes{In: n, Out: n}, nil
}

// Pack copies the images' rows, without their padding, into the slot's host buffer.
func (w vignetteWork) Pack(b *imagebatch.Batch, host []byte) error {
	off := 0
	for _, img := range b.Images {
		row := img.Width * img.Channels
		for y := range img.Height {
			off += copy(host[off:off+row], img.Pix[y*img.Stride:])
		}
	}
	return nil
}

// Enqueue launches the kernel once per image, on 16×16 blocks that cover it.
func (w vignetteWork) Enqueue(s gpu.Stream, b *imagebatch.Batch, bufs gpu.SlotBuffers) error {
	const side = 16
	off := 0
	for _, img := range b.Images {
		grid := gpu.Dim3{X: (img.Width + side - 1) / side, Y: (img.Height + side - 1) / side}
		err := s.Launch(w.k, grid, gpu.Dim3{X: side, Y: side},
			gpu.Ptr(bufs.In, off), gpu.Ptr(bufs.Out, off),
			gpu.Int32(int32(img.Width)), gpu.Int32(int32(img.Height)), gpu.Int32(int32(img.Channels)),
			gpu.Int32(int32(w.strength)))
		if err != nil {
			return err
		}
		off += packedLen(img)
	}
	return nil
}

// outputs returns views of the batch's results in out, the bytes of the slot's output buffer.
func outputs(b *imagebatch.Batch, out []byte) []raster.Image {
	views := make([]raster.Image, len(b.Images))
	off := 0
	for i, img := range b.Images {
		n := packedLen(img)
		views[i] = raster.Image{Pix: out[off : off+n], Width: img.Width, Height: img.Height,
			Stride: img.Width * img.Channels, Channels: img.Channels}
		off += n
	}
	return views
}

func packedLen(img raster.Image) int {
	return img.Width * img.Height * img.Channels
}

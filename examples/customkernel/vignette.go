package main

import (
	_ "embed"
	"fmt"
	"slices"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/raster"
	"github.com/gpupipe/gpupipe/stages/imageio"
	"github.com/gpupipe/gpupipe/stages/walk"
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

// errRegister is the registration of the kernel in both its forms, once per process (a name
// can be registered only once): a device runs whichever it can.
var errRegister = gpu.RegisterKernel(gpu.KernelSpec{
	Name: kernelName,
	PTX:  vignettePTX,
	Host: vignetteHost,
	// src, dst, width, height, channels, strength: launches with other kinds are refused.
	Args: []gpu.ArgKind{gpu.KindPtr, gpu.KindPtr, gpu.KindInt32, gpu.KindInt32, gpu.KindInt32, gpu.KindInt32},
})

// vignetteHost is the kernel's Go implementation, which the CPU device runs: every thread of
// the grid, computing what the CUDA kernel computes with the same integer arithmetic. One
// Scan reads the launch's arguments; ParallelFor spreads the threads over every core.
func vignetteHost(l *gpu.HostLaunch) error {
	var src, dst []byte
	var width, height, channels, strength int32
	if err := l.Scan(&src, &dst, &width, &height, &channels, &strength); err != nil {
		return err
	}
	w, h, c := int(width), int(height), int(channels)
	if n := w * h * c; n > len(src) || n > len(dst) {
		return fmt.Errorf("%w: %s over %d×%d×%d bytes", gpu.ErrOutOfRange, kernelName, w, h, c)
	}
	// The threads that exist: the grid may cover less than the image, or more.
	xs := max(0, min(w, threads(l.Grid.X, l.Block.X)))
	ys := max(0, min(h, threads(l.Grid.Y, l.Block.Y)))
	r2 := int64(w)*int64(w) + int64(h)*int64(h)
	colours := c
	if c == 4 {
		colours = 3 // alpha is copied
	}
	gpu.ParallelFor(xs*ys, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			x, y := t%xs, t/xs
			dx, dy := int64(2*x+1-w), int64(2*y+1-h)
			gain := 256 - int(int64(strength)*(dx*dx+dy*dy)/r2)
			i := (y*w + x) * c
			for k := range colours {
				dst[i+k] = byte((int(src[i+k])*gain + 128) >> 8)
			}
			if c == 4 {
				dst[i+3] = src[i+3]
			}
		}
	})
	return nil
}

// threads is the number of threads along one axis; a zero dimension counts as 1, as in
// gpu.Dim3.
func threads(grid, block int) int {
	return max(grid, 1) * max(block, 1)
}

// vignetteWork is the engine's Work: a batch of decoded images in, their darkened copies out.
// The images travel packed one after another, without row padding, and each gets one launch.
// One work serves every device: the kernel is found on the stream's.
type vignetteWork struct {
	strength int
}

// vignetted is one finished image and the file it was made from. It owns its pixels.
type vignetted struct {
	File  walk.File
	Image raster.Image
}

// Label names the image by its source in errors.
func (v vignetted) Label() string { return v.File.Label() }

// newVignetteWork checks the strength, from 0 to 256: how much the corners lose, in 256ths.
func newVignetteWork(strength int) (vignetteWork, error) {
	if strength < 0 || strength > 256 {
		return vignetteWork{}, fmt.Errorf("vignette strength %d: want 0 to 256", strength)
	}
	return vignetteWork{strength: strength}, errRegister
}

// Sizes: the output has the input's size; no scratch memory.
func (w vignetteWork) Sizes(b []*imageio.Decoded) (gpu.Sizes, error) {
	n := 0
	for _, d := range b {
		if err := d.Image.Check(); err != nil {
			return gpu.Sizes{}, fmt.Errorf("%s: %w", d.Label(), err)
		}
		n += packedLen(d.Image)
	}
	return gpu.Sizes{In: n, Out: n}, nil
}

// Pack copies the images' rows, without their padding, into the slot's pinned input buffer.
func (w vignetteWork) Pack(b []*imageio.Decoded, host []byte) error {
	off := 0
	for _, d := range b {
		img := d.Image
		row := img.Width * img.Channels
		for y := range img.Height {
			off += copy(host[off:off+row], img.Pix[y*img.Stride:])
		}
	}
	return nil
}

// Enqueue launches the kernel once per image, on 16×16 blocks that cover it.
func (w vignetteWork) Enqueue(s gpu.Stream, b []*imageio.Decoded, bufs gpu.SlotBuffers) error {
	k, err := s.Device().Kernel(kernelName)
	if err != nil {
		return err
	}
	const side = 16
	off := 0
	for _, d := range b {
		img := d.Image
		grid := gpu.Dim3{X: (img.Width + side - 1) / side, Y: (img.Height + side - 1) / side}
		err := s.Launch(k, grid, gpu.Dim3{X: side, Y: side},
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

// Result copies each image out of the slot's output buffer, which the engine reuses once it
// returns.
func (w vignetteWork) Result(b []*imageio.Decoded, out []byte) ([]vignetted, error) {
	res := make([]vignetted, len(b))
	off := 0
	for i, d := range b {
		img := d.Image
		n := packedLen(img)
		res[i] = vignetted{File: d.File, Image: raster.Image{Pix: slices.Clone(out[off : off+n]),
			Width: img.Width, Height: img.Height, Stride: img.Width * img.Channels, Channels: img.Channels}}
		off += n
	}
	return res, nil
}

func packedLen(img raster.Image) int {
	return img.Width * img.Height * img.Channels
}

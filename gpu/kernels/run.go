package kernels

import (
	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/raster"
)

// Run applies the plan to the images on the host with the Go implementations, on all
// cores, and computes exactly the bytes a device computes for the same batch. It allocates
// the batch's buffers, and its outputs are views into one of them; for a stream of batches,
// give the plan to the overlap engine instead.
func (p *Plan) Run(images []raster.Image) (Output, error) {
	return p.RunColors(images, nil)
}

// RunColors is Run with each image's colour map for ToSRGB (see NewColorBatch); colors may be
// nil.
func (p *Plan) RunColors(images []raster.Image, colors []*ColorMap) (Output, error) {
	l, err := p.plan(images, colors, false)
	if err != nil {
		return Output{}, err
	}
	in := make([]byte, l.sizes.In)
	scratch := make([]byte, l.sizes.Scratch)
	out := make([]byte, l.sizes.Out)
	if err := l.pack(images, in); err != nil {
		return Output{}, err
	}
	if err := l.runHost(in, scratch, out); err != nil {
		return Output{}, err
	}
	return l.views(p.tensor, out)
}

// runHost runs every launch of the layout through the kernels' host functions, with the same
// encoded arguments a device launch gets.
func (l *layout) runHost(in, scratch, out []byte) error {
	mem := [3][]byte{bufIn: in, bufScratch: scratch, bufOut: out}
	for _, pl := range l.launches {
		if pl.grid == 0 {
			continue
		}
		if err := pl.k.host(hostLaunch(pl, pl.grid, mem)); err != nil {
			return err
		}
	}
	return nil
}

// hostLaunch is launch pl over grid blocks on the buffers mem (In, Scratch, Out) as a device
// hands it to a kernel's Go implementation.
func hostLaunch(pl *plannedLaunch, grid int, mem [3][]byte) *gpu.HostLaunch {
	return &gpu.HostLaunch{
		Grid:  gpu.Dim3{X: grid},
		Block: gpu.Dim3{X: blockSize},
		Args: []gpu.HostArg{
			{Kind: gpu.KindPtr, Mem: mem[bufIn][pl.jobsAt:]},
			{Kind: gpu.KindInt32, Bits: uint64(len(pl.jobs))},
			{Kind: gpu.KindPtr, Mem: mem[areaBuffer[pl.src]]},
			{Kind: gpu.KindPtr, Mem: mem[areaBuffer[pl.dst]]},
			{Kind: gpu.KindPtr, Mem: mem[areaBuffer[pl.tab]]},
		},
	}
}

package kernels

import (
	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/raster"
)

// Result is what Run returns: the output images, or the output tensors when the plan ends
// with Normalize. They are views into one buffer owned by the Result.
type Result struct {
	Images  []raster.Image
	Tensors []raster.Tensor
}

// Run applies the plan to batch b on the host with the Go implementations, on all cores, and
// computes exactly the bytes a device computes for the same batch. It allocates the batch's
// buffers; for a stream of batches, bind the plan to a device instead.
func (p *Plan) Run(b []raster.Image) (Result, error) {
	l, err := p.layout(b)
	if err != nil {
		return Result{}, err
	}
	in := make([]byte, l.sizes.In)
	scratch := make([]byte, l.sizes.Scratch)
	out := make([]byte, l.sizes.Out)
	if err := l.pack(b, in); err != nil {
		return Result{}, err
	}
	if err := l.runHost(in, scratch, out); err != nil {
		return Result{}, err
	}
	if p.tensor {
		ts, err := p.Tensors(b, out)
		return Result{Tensors: ts}, err
	}
	ims, err := p.Images(b, out)
	return Result{Images: ims}, err
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

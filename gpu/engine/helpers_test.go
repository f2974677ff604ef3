package engine_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"sync"
	"testing"
	"time"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/cpu"
	"github.com/gpupipe/gpupipe/gpu/engine"
	"github.com/gpupipe/gpupipe/gpu/gputest"
)

// batch is a test batch: n float32 values and a factor that differs per batch, so that an
// output mixed up with another batch's is caught.
type batch struct {
	id int
	a  float32
	x  []float32
}

func (b batch) Label() string { return fmt.Sprintf("b%d", b.id) }

// chain is the test Work: out = x; out += a·x; scratch = out; out += −0.5·scratch. It uses
// the input, output and scratch buffers, device→device copies and two launches per batch.
// Its Result is the batch's id and a copy of its output.
type chain struct {
	k          gpu.Kernel
	failPack   int // batch id whose Pack fails; -1 for none
	failResult int // batch id whose Result fails; -1 for none
}

func newChain(t testing.TB, dev gpu.Device) *chain {
	t.Helper()
	if err := gputest.RegisterKernel(); err != nil {
		t.Fatal(err)
	}
	k, err := dev.Kernel(gputest.Kernel)
	if err != nil {
		t.Fatal(err)
	}
	return &chain{k: k, failPack: -1, failResult: -1}
}

func (c *chain) Sizes(b batch) (gpu.Sizes, error) {
	n := 4 * len(b.x)
	return gpu.Sizes{In: n, Out: n, Scratch: n}, nil
}

var errBadBatch = errors.New("bad batch")

func (c *chain) Pack(b batch, host []byte) error {
	if b.id == c.failPack {
		return errBadBatch
	}
	f, err := gpu.Float32s(host)
	if err != nil {
		return err
	}
	copy(f, b.x)
	return nil
}

func (c *chain) Enqueue(s gpu.Stream, b batch, bufs gpu.SlotBuffers) error {
	n := len(b.x)
	grid, block := gpu.Grid1D(n, 256)
	saxpy := func(y, x gpu.DeviceBuffer, a float32) error {
		return s.Launch(c.k, grid, block, gpu.Ptr(y, 0), gpu.Ptr(x, 0), gpu.Float32(a), gpu.Int32(int32(n)), gpu.Int32(0))
	}
	for _, err := range []error{
		s.CopyDtoD(bufs.Out, 0, bufs.In, 0, 4*n),
		saxpy(bufs.Out, bufs.In, b.a),
		s.CopyDtoD(bufs.Scratch, 0, bufs.Out, 0, 4*n),
		saxpy(bufs.Out, bufs.Scratch, -0.5),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

func (c *chain) Result(b batch, out []byte) (result, error) {
	if b.id == c.failResult {
		return result{}, errBadBatch
	}
	return result{seq: -1, id: b.id, out: bytes.Clone(out)}, nil
}

// randomBatches makes n batches of 1 to maxLen random values each.
func randomBatches(seed int64, n, maxLen int) []batch {
	rng := rand.New(rand.NewSource(seed))
	out := make([]batch, n)
	for i := range out {
		x := make([]float32, 1+rng.Intn(maxLen))
		for j := range x {
			x[j] = rng.Float32()*200 - 100
		}
		out[i] = batch{id: i, a: float32(rng.Intn(9) - 4), x: x}
	}
	return out
}

// reference runs every batch synchronously on a device of its own: one stream, fresh
// buffers per batch, and a Synchronize after each. Nothing overlaps, so nothing can be
// reused too early.
func reference(t testing.TB, batches []batch) [][]byte {
	t.Helper()
	dev, err := cpu.New()
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	work := newChain(t, dev)
	s, err := dev.NewStream()
	if err != nil {
		t.Fatal(err)
	}
	out := make([][]byte, len(batches))
	for i, b := range batches {
		out[i], err = referenceOne(dev, s, work, b)
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func referenceOne(dev gpu.Device, s gpu.Stream, work *chain, b batch) ([]byte, error) {
	sz, _ := work.Sizes(b)
	hin, err := dev.AllocHost(sz.In)
	if err != nil {
		return nil, err
	}
	defer hin.Free()
	hout, err := dev.AllocHost(sz.Out)
	if err != nil {
		return nil, err
	}
	defer hout.Free()
	var bufs gpu.SlotBuffers
	for _, p := range []struct {
		b *gpu.DeviceBuffer
		n int
	}{{&bufs.In, sz.In}, {&bufs.Out, sz.Out}, {&bufs.Scratch, sz.Scratch}} {
		if *p.b, err = dev.AllocDevice(p.n); err != nil {
			return nil, err
		}
		defer (*p.b).Free()
	}
	if err := work.Pack(b, hin.Bytes()); err != nil {
		return nil, err
	}
	for _, err := range []error{
		s.CopyHtoD(bufs.In, 0, hin, 0, sz.In),
		work.Enqueue(s, b, bufs),
		s.CopyDtoH(hout, 0, bufs.Out, 0, sz.Out),
		s.Synchronize(),
	} {
		if err != nil {
			return nil, err
		}
	}
	return bytes.Clone(hout.Bytes()), nil
}

// result is what a consumer saw of one finished batch.
type result struct {
	seq int64
	id  int
	out []byte
}

// drive submits batches from one goroutine and consumes results in another, as a pipeline
// would. The consumer sometimes holds an output a little before releasing it, so that
// slots come back late and out of step with the device.
func drive(ctx context.Context, eng *engine.Engine[batch], batches []batch, seed int64) ([]result, error) {
	var wg sync.WaitGroup
	var submitErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer eng.Finish()
		for _, b := range batches {
			if err := eng.Submit(ctx, b); err != nil {
				submitErr = err
				return
			}
		}
	}()
	results, nextErr := consume(ctx, eng, seed)
	wg.Wait()
	if submitErr != nil {
		return results, submitErr
	}
	return results, nextErr
}

func consume(ctx context.Context, eng *engine.Engine[batch], seed int64) ([]result, error) {
	rng := rand.New(rand.NewSource(seed))
	var results []result
	for {
		d, err := eng.Next(ctx)
		if err == io.EOF {
			return results, nil
		}
		if err != nil {
			return results, err
		}
		if rng.Intn(4) == 0 {
			time.Sleep(time.Duration(rng.Intn(300)) * time.Microsecond)
		}
		results = append(results, result{seq: d.Seq, id: d.Batch.id, out: bytes.Clone(d.Out)})
		d.Release()
	}
}

// mismatch reports the first difference between results and the reference, or "". A
// result's seq of -1 (from Result, which does not see it) is not checked.
func mismatch(results []result, want [][]byte) string {
	if len(results) != len(want) {
		return fmt.Sprintf("%d results, want %d", len(results), len(want))
	}
	for i, r := range results {
		if r.id != i || (r.seq != int64(i) && r.seq != -1) {
			return fmt.Sprintf("result %d is batch %d (seq %d): out of order", i, r.id, r.seq)
		}
		if !bytes.Equal(r.out, want[i]) {
			return fmt.Sprintf("batch %d: output differs from the synchronous reference", i)
		}
	}
	return ""
}

// shaky is a device whose every operation starts after a random delay.
func shaky(t testing.TB, seed int64, opts ...cpu.Option) *cpu.Device {
	t.Helper()
	dev, err := cpu.New(append([]cpu.Option{cpu.RandomDelays(seed, 400*time.Microsecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dev.Close() })
	return dev
}

func checkNoLeaks(t testing.TB, dev *cpu.Device) {
	t.Helper()
	if live := dev.Live(); live != (cpu.Live{}) {
		t.Errorf("device still holds %+v", live)
	}
}

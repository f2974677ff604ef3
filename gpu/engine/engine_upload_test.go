package engine_test

import (
	"context"
	"sync"
	"testing"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/cpu"
	"github.com/gpupipe/gpupipe/gpu/engine"
)

// uploadDevice is a CPU device that, like the CUDA device, has a separate allocator for
// host memory that is only uploaded, and remembers which buffers came from it.
type uploadDevice struct {
	*cpu.Device
	mu      sync.Mutex
	uploads map[gpu.HostBuffer]bool
	plain   int
}

func (d *uploadDevice) AllocUploadHost(size int) (gpu.HostBuffer, error) {
	h, err := d.Device.AllocHost(size)
	if err == nil {
		d.mu.Lock()
		d.uploads[h] = true
		d.mu.Unlock()
	}
	return h, err
}

func (d *uploadDevice) AllocHost(size int) (gpu.HostBuffer, error) {
	d.mu.Lock()
	d.plain++
	d.mu.Unlock()
	return d.Device.AllocHost(size)
}

// Slot input buffers, which the engine only writes, come from the upload allocator; output
// buffers, which the consumer reads, do not.
func TestEngineAllocatesInputsAsUploadBuffers(t *testing.T) {
	dev := &uploadDevice{Device: shaky(t, 5), uploads: map[gpu.HostBuffer]bool{}}
	work := newChain(t, dev)
	batches := randomBatches(5, 12, 3000)
	eng, err := engine.New[batch](dev, work, engine.Options{Slots: 2})
	if err != nil {
		t.Fatal(err)
	}
	results, err := drive(context.Background(), eng, batches, 5)
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}
	if msg := mismatch(results, reference(t, batches)); msg != "" {
		t.Fatal(msg)
	}
	if len(dev.uploads) == 0 || dev.plain == 0 {
		t.Fatalf("%d upload buffers and %d plain host buffers; want inputs from the upload allocator and outputs from AllocHost", len(dev.uploads), dev.plain)
	}
}

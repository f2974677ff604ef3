package engine

import (
	"errors"
	"fmt"

	"github.com/gpupipe/gpupipe/gpu"
)

// Events of a slot, recorded at the boundaries of each batch's phases.
const (
	evStart    = iota // before the upload
	evUploaded        // after the upload, before the kernels
	evComputed        // after the kernels, before the download
	evDone            // after the download: the slot's work is complete
	numEvents
)

// slot is one batch's worth of everything: a stream, its events, and buffers that grow to
// the largest batch seen and are reused for every batch after.
type slot struct {
	index   int
	stream  gpu.Stream
	events  [numEvents]gpu.Event
	hostIn  gpu.HostBuffer
	hostOut gpu.HostBuffer
	bufs    gpu.SlotBuffers
	caps    gpu.Sizes // capacity of the buffers above

	// Guarded by the engine's mutex.
	held bool // its output is with a consumer that has not released it
	dead bool // its stream faulted
}

func newSlot(dev gpu.Device, index int) (*slot, error) {
	s := &slot{index: index}
	var err error
	if s.stream, err = dev.NewStream(); err != nil {
		return nil, err
	}
	for i := range s.events {
		if s.events[i], err = dev.NewEvent(); err != nil {
			_ = s.freeDevice()
			return nil, err
		}
	}
	return s, nil
}

// input and output are views of the host buffers, n bytes long.
func (s *slot) input(n int) []byte  { return view(s.hostIn, n) }
func (s *slot) output(n int) []byte { return view(s.hostOut, n) }

func view(h gpu.HostBuffer, n int) []byte {
	if h == nil || n == 0 {
		return nil
	}
	return h.Bytes()[:n:n]
}

// grow makes the slot's buffers at least as large as need. The slot must be idle. A buffer
// grows by at least half its size, so a run whose batches creep up in size reallocates a
// logarithmic number of times, not once per batch. When the device cannot make room, the
// slot lets go of all its buffers, so that the memory serves the batches that do fit.
func (e *Engine[B]) grow(s *slot, need gpu.Sizes) error {
	if need.In <= s.caps.In && need.Out <= s.caps.Out && need.Scratch <= s.caps.Scratch {
		return nil
	}
	// With Keep, the buffers of ordinary batches stay within a third of it each, and
	// are kept.
	err := s.growBuffers(e.dev, need, (e.keep/3)&^255) // rounded down, as sizes round up to 256
	if err != nil {
		_ = s.dropBuffers()
	}
	e.stats.grew(s.index, s.caps, err == nil)
	return err
}

func (s *slot) growBuffers(dev gpu.Device, need gpu.Sizes, limit int) error {
	if need.In > s.caps.In {
		n, err := growPair(dev, allocUpload(dev), &s.hostIn, &s.bufs.In, need.In, growth(s.caps.In, need.In, limit))
		if err != nil {
			return fmt.Errorf("input buffers of %d bytes: %w", need.In, err)
		}
		s.caps.In = n
	}
	if need.Out > s.caps.Out {
		n, err := growPair(dev, dev.AllocHost, &s.hostOut, &s.bufs.Out, need.Out, growth(s.caps.Out, need.Out, limit))
		if err != nil {
			return fmt.Errorf("output buffers of %d bytes: %w", need.Out, err)
		}
		s.caps.Out = n
	}
	if need.Scratch > s.caps.Scratch {
		n, err := growDevice(dev, &s.bufs.Scratch, need.Scratch, growth(s.caps.Scratch, need.Scratch, limit))
		if err != nil {
			return fmt.Errorf("scratch buffer of %d bytes: %w", need.Scratch, err)
		}
		s.caps.Scratch = n
	}
	return nil
}

// growth is the size a buffer of have bytes that must hold need grows to: half as large
// again, so that a run whose batches creep up reallocates a logarithmic number of times; or,
// with a limit, straight to the limit (or need, if more), so that its size is set by the
// first batch, not by the largest of a long run, and memory is as flat at a run's start as
// at its end.
func growth(have, need, limit int) int {
	if limit > 0 {
		return max(need, limit)
	}
	return max(need, have+have/2)
}

// allocUpload is how the engine allocates a slot's host input buffer on dev: from the
// device's upload allocator where it has one, since the engine only ever writes its input
// buffers.
func allocUpload(dev gpu.Device) func(int) (gpu.HostBuffer, error) {
	if u, ok := dev.(gpu.UploadAllocator); ok {
		return u.AllocUploadHost
	}
	return dev.AllocHost
}

// growPair replaces a host buffer (allocated by alloc) and a device buffer with larger ones
// of equal size: want bytes, or need if the device has no room for want. On a device that
// maps host memory (gpu.HostMapper: the CPU device) the device buffer is the host buffer's
// memory, so that the pair takes it once and the copies between them move nothing.
func growPair(dev gpu.Device, alloc func(int) (gpu.HostBuffer, error), host *gpu.HostBuffer, buf *gpu.DeviceBuffer, need, want int) (int, error) {
	if m, ok := dev.(gpu.HostMapper); ok {
		n, err := growMapped(m, alloc, host, buf, need, want)
		if !errors.Is(err, errors.ErrUnsupported) {
			return n, err
		}
	}
	n, err := growDevice(dev, buf, need, want)
	if err != nil {
		return 0, err
	}
	if *host != nil {
		_ = (*host).Free()
		*host = nil
	}
	h, err := alloc(n)
	if err != nil {
		_ = (*buf).Free()
		*buf = nil
		return 0, err
	}
	*host = h
	return n, nil
}

// growMapped replaces the pair with a host buffer of want bytes (need, if there is no room
// for want) and the device's mapping of it. It fails with errors.ErrUnsupported, having
// freed the pair, where the device declines to map.
func growMapped(m gpu.HostMapper, alloc func(int) (gpu.HostBuffer, error), host *gpu.HostBuffer, buf *gpu.DeviceBuffer, need, want int) (int, error) {
	if *buf != nil {
		_ = (*buf).Free() // the mapping first, then the memory it maps
		*buf = nil
	}
	if *host != nil {
		_ = (*host).Free()
		*host = nil
	}
	n := roundUp(want)
	h, err := alloc(n)
	if err != nil && n != need {
		n = need
		h, err = alloc(n)
	}
	if err != nil {
		return 0, err
	}
	d, err := m.MapHost(h)
	if err != nil {
		_ = h.Free()
		return 0, err
	}
	*host, *buf = h, d
	return n, nil
}

// growDevice replaces a device buffer with a larger one: want bytes if the device has room,
// else exactly what is needed.
func growDevice(dev gpu.Device, buf *gpu.DeviceBuffer, need, want int) (int, error) {
	if *buf != nil {
		_ = (*buf).Free() // first, so that its memory counts as free
		*buf = nil
	}
	for _, n := range []int{roundUp(want), need} {
		b, err := dev.AllocDevice(n)
		if err == nil {
			*buf = b
			return n, nil
		}
		if !errors.Is(err, gpu.ErrOutOfMemory) || n == need {
			return 0, err
		}
	}
	return 0, gpu.ErrOutOfMemory // not reached: the last size tried is need
}

// roundUp rounds n up to a multiple of 256 bytes, the alignment CUDA gives allocations.
func roundUp(n int) int { return (n + 255) &^ 255 }

// freeDevice releases the stream, the events and every buffer but the host output buffer,
// which a consumer may still be reading.
func (s *slot) freeDevice() error {
	var errs []error
	if s.stream != nil {
		errs = append(errs, s.stream.Close())
		s.stream = nil
	}
	for i, ev := range s.events {
		if ev != nil {
			errs = append(errs, ev.Close())
			s.events[i] = nil
		}
	}
	return errors.Join(append(errs, s.freeInputs())...)
}

// dropBuffers frees all the buffers of an idle slot, which then grows afresh.
func (s *slot) dropBuffers() error {
	err := errors.Join(s.freeInputs(), s.freeOutput())
	s.caps = gpu.Sizes{}
	return err
}

// freeInputs frees the device buffers and the host input buffer.
func (s *slot) freeInputs() error {
	var errs []error
	for _, b := range []*gpu.DeviceBuffer{&s.bufs.In, &s.bufs.Out, &s.bufs.Scratch} {
		if *b != nil {
			errs = append(errs, (*b).Free())
			*b = nil
		}
	}
	if s.hostIn != nil {
		errs = append(errs, s.hostIn.Free())
		s.hostIn = nil
	}
	return errors.Join(errs...)
}

func (s *slot) freeOutput() error {
	if s.hostOut == nil {
		return nil
	}
	err := s.hostOut.Free()
	s.hostOut = nil
	return err
}

//go:build cuda

package cuda

import (
	"fmt"
	"testing"
	"time"

	"github.com/gpupipe/gpupipe/gpu"
)

// BenchmarkCopy measures host↔device bandwidth for each kind of host memory, timed with
// events. Pageable copies include the driver's staging through its own pinned buffer.
func BenchmarkCopy(b *testing.B) {
	d := openTest(b)
	for _, size := range []int{benchSize(1 << 20), benchSize(16 << 20), benchSize(256 << 20)} {
		for _, kind := range []HostMemory{Pinned, WriteCombined, Pageable} {
			b.Run(fmt.Sprintf("HtoD/%v/%s", kind, mib(size)), func(b *testing.B) {
				benchCopy(b, d, kind, size, true)
			})
		}
		for _, kind := range []HostMemory{Pinned, Pageable} {
			b.Run(fmt.Sprintf("DtoH/%v/%s", kind, mib(size)), func(b *testing.B) {
				benchCopy(b, d, kind, size, false)
			})
		}
	}
}

func benchCopy(b *testing.B, d *Device, kind HostMemory, size int, up bool) {
	h := allocHost(b, d, size, kind)
	// Pages never written would be the kernel's shared zero page, or not mapped at all:
	// write them, as a pipeline does, before measuring.
	for i, p := 0, h.Bytes(); i < len(p); i += 4096 {
		p[i] = byte(i)
	}
	dev := allocDevice(b, d, size)
	s := newStream(b, d)
	tm := newTimer(b, d, s)
	one := func() error { return s.CopyDtoH(h, 0, dev, 0, size) }
	dir := "device→host"
	if up {
		one = func() error { return s.CopyHtoD(dev, 0, h, 0, size) }
		dir = "host→device"
	}
	tm.time(b, one) // the first copy pays for mapping the memory
	b.SetBytes(int64(size))
	b.ResetTimer()
	el := tm.time(b, repeat(b.N, one))
	b.StopTimer()
	rate := gbps(int64(size)*int64(b.N), el)
	b.ReportMetric(rate, "GB/s")
	record(d, measurement{Group: "copy", Name: fmt.Sprintf("%s %v %s", dir, kind, mib(size)),
		Value: rate, Unit: "GB/s", Note: "events"})
}

// BenchmarkPackUpload measures what an upload buffer is for: the host writes a batch into
// it, then it is copied to the device. Write-combined memory may make the first part faster
// (no cache pollution, streaming writes) and the second too; this measures whether it does.
func BenchmarkPackUpload(b *testing.B) {
	d := openTest(b)
	size := benchSize(64 << 20)
	src := make([]byte, size)
	for i := range src {
		src[i] = byte(i * 7)
	}
	for _, kind := range []HostMemory{Pinned, WriteCombined, Pageable} {
		b.Run(kind.String(), func(b *testing.B) {
			h := allocHost(b, d, size, kind)
			dev := allocDevice(b, d, size)
			s := newStream(b, d)
			var pack, total time.Duration
			b.SetBytes(int64(size))
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				copy(h.Bytes(), src)
				pack += time.Since(t0)
				must(b, s.CopyHtoD(dev, 0, h, 0, size))
				must(b, s.Synchronize())
				total += time.Since(t0)
			}
			b.StopTimer()
			n := int64(size) * int64(b.N)
			b.ReportMetric(gbps(n, pack), "pack-GB/s")
			b.ReportMetric(gbps(n, total), "GB/s")
			record(d, measurement{Group: "upload buffer", Name: fmt.Sprintf("host write %v %s", kind, mib(size)),
				Value: gbps(n, pack), Unit: "GB/s", Note: "wall clock, one goroutine"})
			record(d, measurement{Group: "upload buffer", Name: fmt.Sprintf("write+upload %v %s", kind, mib(size)),
				Value: gbps(n, total), Unit: "GB/s", Note: "wall clock"})
		})
	}
}

// BenchmarkDeviceCopy measures device memory bandwidth: a device→device copy and a copy
// kernel each read and write every byte, so the rate counts both. It is the ceiling the
// image kernels are compared with.
func BenchmarkDeviceCopy(b *testing.B) {
	d := openTest(b)
	size := benchSize(256 << 20)
	src, dst := allocDevice(b, d, size), allocDevice(b, d, size)
	s := newStream(b, d)
	tm := newTimer(b, d, s)
	k := kernelOf(b, d, copyKernel)
	ways := []struct {
		name string
		one  func() error
	}{
		{"cuMemcpyDtoDAsync", func() error { return s.CopyDtoD(dst, 0, src, 0, size) }},
		{"copy kernel", func() error {
			return launch1D(s, k, size/4, gpu.Ptr(dst, 0), gpu.Ptr(src, 0), gpu.Int32(int32(size/4)))
		}},
	}
	for _, w := range ways {
		b.Run(w.name, func(b *testing.B) {
			tm.time(b, w.one)
			b.SetBytes(2 * int64(size))
			b.ResetTimer()
			el := tm.time(b, repeat(b.N, w.one))
			b.StopTimer()
			rate := gbps(2*int64(size)*int64(b.N), el)
			b.ReportMetric(rate, "GB/s")
			record(d, measurement{Group: "device memory", Name: w.name + " " + mib(size), Value: rate,
				Unit: "GB/s", Note: "read + write"})
		})
	}
}

//go:build cuda

package cuda

// gorgonia.org/cu v0.9.6 wraps cuMemFreeHost but not cuMemHostAlloc, so page-locked memory is
// allocated through this shim. The search paths are those gorgonia.org/cu uses; CGO_CFLAGS
// and CGO_LDFLAGS add others.

/*
#cgo linux CFLAGS: -I/usr/local/cuda/include -I/opt/cuda/include
#cgo linux LDFLAGS: -L/usr/local/cuda/lib64 -L/usr/local/cuda/lib64/stubs -L/opt/cuda/lib64 -lcuda
#include <stdlib.h>
#include <cuda.h>

static CUresult gp_host_alloc(void **p, size_t n, unsigned int flags) {
	return cuMemHostAlloc(p, n, flags);
}

static CUresult gp_host_free(void *p) {
	return cuMemFreeHost(p);
}

// Page-aligned like pinned memory, so that the two compare fairly.
static void *gp_pageable_alloc(size_t n) {
	void *p = NULL;
	return posix_memalign(&p, 4096, n) == 0 ? p : NULL;
}
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// hostAlloc allocates n bytes of page-locked memory in the current context; writeCombined
// asks for CU_MEMHOSTALLOC_WRITECOMBINED. The caller has made the device's context current.
func hostAlloc(n int, writeCombined bool) (unsafe.Pointer, error) {
	var flags C.uint
	if writeCombined {
		flags = C.CU_MEMHOSTALLOC_WRITECOMBINED
	}
	var p unsafe.Pointer
	if r := C.gp_host_alloc(&p, C.size_t(n), flags); r != C.CUDA_SUCCESS {
		return nil, driverError(int(r))
	}
	return p, nil
}

// hostFree releases memory from hostAlloc. The caller has made the device's context current.
func hostFree(p unsafe.Pointer) error {
	if r := C.gp_host_free(p); r != C.CUDA_SUCCESS {
		return driverError(int(r))
	}
	return nil
}

// pageableAlloc allocates n bytes of ordinary (pageable), page-aligned memory outside the Go
// heap, so that the driver may use it during a copy without cgo's rules on Go pointers
// getting in the way.
func pageableAlloc(n int) (unsafe.Pointer, error) {
	p := C.gp_pageable_alloc(C.size_t(n))
	if p == nil {
		return nil, fmt.Errorf("cuda: out of host memory allocating %d bytes", n)
	}
	return p, nil
}

func pageableFree(p unsafe.Pointer) { C.free(p) }

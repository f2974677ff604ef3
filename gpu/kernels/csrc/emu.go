//go:build cgo

package csrc

/*
#cgo CXXFLAGS: -O2 -std=c++17 -Wall
#include <stdlib.h>

int emu_kernel_count(void);
const char* emu_kernel_name(int i);
int emu_launch(const char* name, int grid, int block, const void* jobs, int n,
               const void* src, void* dst, const void* tab);
float emu_contract_probe(float a, float b, float c);
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// Available reports whether the emulator was compiled in (it needs cgo).
const Available = true

// Kernels lists the kernels the emulator knows, in the order of its table.
func Kernels() []string {
	n := int(C.emu_kernel_count())
	names := make([]string, n)
	for i := range names {
		names[i] = C.GoString(C.emu_kernel_name(C.int(i)))
	}
	return names
}

// Launch runs the C kernel name over grid×block threads on the CPU with the kernels' common
// parameter list: jobs and n describe the images, src, dst and tab are the buffers their byte
// offsets point into. The kernel trusts its arguments as a GPU kernel does: a job that reaches
// outside a buffer corrupts memory, so only pass what the Go implementation has validated.
func Launch(name string, grid, block int, jobs []byte, n int, src, dst, tab []byte) error {
	if grid < 0 || block <= 0 {
		return fmt.Errorf("csrc: bad launch shape %d×%d", grid, block)
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	rc := C.emu_launch(cname, C.int(grid), C.int(block), ptr(jobs), C.int(n), ptr(src), ptr(dst), ptr(tab))
	if rc != 0 {
		return fmt.Errorf("csrc: no kernel %q in the emulator", name)
	}
	return nil
}

// ContractProbe returns a*b+c as the emulated kernels compute such an expression. It equals
// float32(a*b)+c (two roundings) unless the C++ compiler fused the operations.
func ContractProbe(a, b, c float32) float32 {
	return float32(C.emu_contract_probe(C.float(a), C.float(b), C.float(c)))
}

func ptr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(&b[0])
}

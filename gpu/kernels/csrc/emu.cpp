//go:build cgo

// The CPU emulation of the kernels: the .cu files compiled by g++ under emu.h.

// Contraction of a*b+c into a fused multiply-add would round once where Go and the GPU (built
// with -fmad=false) round twice. GCC contracts by default when the target has FMA
// instructions (-march=native, for one); cgo does not allow -ffp-contract in #cgo flags, so
// the pragma switches it off for everything below.
#pragma GCC optimize("fp-contract=off")

#include <string.h>

#include "emu.h"

thread_local uint3 threadIdx;
thread_local uint3 blockIdx;
thread_local dim3 blockDim;
thread_local dim3 gridDim;

#include "pixel.cu"
#include "resample.cu"

typedef void (*kernel_fn)(const Job*, int, const u8*, u8*, const u8*);

static const struct {
    const char* name;
    kernel_fn fn;
} kernels[] = {
    {"color", color},
    {"grey", grey},
    {"lut", lut},
    {"normalize", normalize},
    {"orient", orient},
    {"resample_h", resample_h},
    {"resample_v", resample_v},
    {"resample_v_color", resample_v_color},
    {"resample_v_norm", resample_v_norm},
    {"unsharp", unsharp},
};

extern "C" int emu_kernel_count(void) {
    return (int)(sizeof(kernels) / sizeof(kernels[0]));
}

extern "C" const char* emu_kernel_name(int i) {
    return kernels[i].name;
}

// emu_launch runs kernel name over grid x block threads, one after another. It returns -1 for
// an unknown name.
extern "C" int emu_launch(const char* name, int grid, int block, const void* jobs, int n,
                          const void* src, void* dst, const void* tab) {
    kernel_fn fn = 0;
    for (int i = 0; i < emu_kernel_count(); i++) {
        if (strcmp(kernels[i].name, name) == 0) {
            fn = kernels[i].fn;
        }
    }
    if (fn == 0) {
        return -1;
    }
    gridDim = dim3{(unsigned)grid, 1, 1};
    blockDim = dim3{(unsigned)block, 1, 1};
    for (int b = 0; b < grid; b++) {
        blockIdx = uint3{(unsigned)b, 0, 0};
        for (int t = 0; t < block; t++) {
            threadIdx = uint3{(unsigned)t, 0, 0};
            fn((const Job*)jobs, n, (const u8*)src, (u8*)dst, (const u8*)tab);
        }
    }
    return 0;
}

// emu_contract_probe computes a*b+c the way the kernels' expressions are compiled, so that a
// test can check that no fused multiply-add crept in.
extern "C" float emu_contract_probe(float a, float b, float c) {
    return a * b + c;
}

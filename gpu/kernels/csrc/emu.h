// emu.h emulates the part of the CUDA execution model that the kernels use, so that g++ can
// compile the same .cu files for the CPU: the qualifiers become nothing and the built-in
// thread coordinates become thread-local variables that emu_launch sets before calling the
// kernel once per thread. Kernels use no shared memory and no synchronisation between threads,
// so running the threads one after another computes what the GPU computes.
#ifndef GPUPIPE_EMU_H
#define GPUPIPE_EMU_H

struct uint3 {
    unsigned int x, y, z;
};

struct dim3 {
    unsigned int x, y, z;
};

extern thread_local uint3 threadIdx;
extern thread_local uint3 blockIdx;
extern thread_local dim3 blockDim;
extern thread_local dim3 gridDim;

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline

#endif

// Definitions shared by the image kernels.
//
// Every kernel has the same parameter list and the same launch shape:
//
//   kernel(const Job* jobs, int n, const u8* src, u8* dst, const u8* tab)
//
// jobs[0..n) describes one image each; a 1-D grid of 1-D blocks covers all their output
// pixels, one thread per output pixel (all channels). Job.block is the first block of an image,
// so a block finds its image by binary search and images of any size share one launch without
// idle threads beyond the last block of each image. src, dst and tab are the base addresses of
// the buffers that the jobs' byte offsets point into; tab holds per-image tables (filter
// weights, lookup tables, normalisation constants) or, for unsharp, a second image.
//
// The code is a plain subset of CUDA C: no shared memory, no warp intrinsics, no math library
// calls whose results differ between the GPU and the host. Everything that needs a
// transcendental function (filter weights, gamma curves) is computed on the host and arrives
// in tab. With contraction of a*b+c into fused multiply-adds switched off (nvcc -fmad=false,
// g++ fp-contract=off, explicit float32 conversions in Go) every float operation here is a
// correctly rounded IEEE operation, so the Go implementation, this source compiled by g++ and
// the GPU compute the same bytes.
#ifndef GPUPIPE_COMMON_CUH
#define GPUPIPE_COMMON_CUH

typedef unsigned char u8;

// Job is one image's share of a launch. Its layout (72 bytes) is encoded by job.go.
struct Job {
    long long src;   // byte offset of source pixel (0,0) from src
    long long dst;   // byte offset of destination pixel (0,0) from dst
    long long tab;   // byte offset of this image's table from tab
    int sw, sh, ss;  // source width, height and row stride in bytes
    int dw, dh, ds;  // destination width, height and row stride in bytes
    int c;           // source channels: 1, 3 or 4
    int block;       // first block of this image in the grid
    int i0, i1;      // integer parameters, meaning per kernel
    float f0, f1;    // float parameters, meaning per kernel
};

// Taps is the header of a separable filter table for one axis. It is followed by
// int start[n], int row[n] and float w[rows][taps]: output index i reads the taps input
// samples start[i], start[i]+1, ... with the weights of row row[i].
struct Taps {
    int n, taps, rows, pad;
};

// Norm holds per-output-plane normalisation constants: out = (float)v * scale + bias.
struct Norm {
    float scale[4];
    float bias[4];
};

// find_job returns the last job whose first block is at most b. Jobs are sorted by block;
// a job with no pixels has the same block as the next one and is skipped.
__device__ __forceinline__ int find_job(const Job* jobs, int n, int b) {
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) >> 1;
        if (jobs[mid].block <= b) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    return lo;
}

// locate finds the job and the output pixel of the calling thread. It returns false for the
// threads past the end of their image.
__device__ __forceinline__ bool locate(const Job* jobs, int n, Job* j, int* x, int* y) {
    if (n <= 0) {
        return false;
    }
    int b = (int)blockIdx.x;
    *j = jobs[find_job(jobs, n, b)];
    if (b < j->block || j->dw <= 0) {
        return false;
    }
    long long e = (long long)(b - j->block) * blockDim.x + threadIdx.x;
    if (e >= (long long)j->dw * j->dh) {
        return false;
    }
    *y = (int)(e / j->dw);
    *x = (int)(e - (long long)*y * j->dw);
    return true;
}

// to_u8 rounds half up and clamps to 0..255: floor(v + 0.5) limited to the byte range.
__device__ __forceinline__ u8 to_u8(float v) {
    float t = v + 0.5f;
    if (!(t > 0.0f)) {  // also NaN
        return 0;
    }
    if (t >= 255.0f) {
        return 255;
    }
    return (u8)(int)t;
}

#endif

// out[i] = a*x[i] + y[i] for i < n: SAXPY, one thread per element.
//
// The product and the sum are rounded separately (no fused multiply-add), so that the Go
// twin, float32(a*x) + y, computes the same bits.
extern "C" __global__ void example_saxpy(float* out, const float* x, const float* y, float a, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        out[i] = __fadd_rn(__fmul_rn(a, x[i]), y[i]);
    }
}

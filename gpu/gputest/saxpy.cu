// The conformance suite's test kernel: y[i] = a*x[i] + y[i] for i < n. When fail is not
// zero it traps instead, which is how the suite makes a device fault on purpose.
//
// The product and the sum are rounded separately (no fused multiply-add), so that the Go
// implementation, float32(a*x) + y, computes the same bits.
extern "C" __global__ void gputest_saxpy(float* y, const float* x, float a, int n, int fail) {
    if (fail != 0) {
        asm volatile("trap;");
    }
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        y[i] = __fadd_rn(__fmul_rn(a, x[i]), y[i]);
    }
}

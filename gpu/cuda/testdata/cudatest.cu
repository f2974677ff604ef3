// Kernels for the tests and benchmarks of package gpu/cuda. Compiled to cudatest.ptx by
// `go generate ./gpu/cuda` (nvcc -ptx), which is committed and embedded by the tests.

// cudatest_args writes every argument it receives into out, so a test can check that each
// parameter arrives at its C size and offset. Its parameter list mixes 4- and 8-byte types
// so that some 8-byte parameters sit after padding: out at 0, i at 8, l at 16, f at 24,
// d at 32, u at 40, p at 48, last at 56.
extern "C" __global__ void cudatest_args(long long *out, int i, long long l, float f, double d,
                                         unsigned int u, const int *p, int last) {
	if (blockIdx.x != 0 || threadIdx.x != 0) {
		return;
	}
	out[0] = i;
	out[1] = l;
	out[2] = (long long)(unsigned int)__float_as_int(f);
	out[3] = __double_as_longlong(d);
	out[4] = (long long)u;
	out[5] = p[0];
	out[6] = (long long)p;
	out[7] = last;
}

// cudatest_burn copies x to y through a chain of iters dependent multiply-adds per element:
// a kernel whose running time the overlap benchmarks choose, with little memory traffic.
extern "C" __global__ void cudatest_burn(float *y, const float *x, int n, int iters) {
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= n) {
		return;
	}
	float v = x[i];
	for (int k = 0; k < iters; k++) {
		v = v * 0.999f + 0.001f;
	}
	y[i] = v;
}

// cudatest_copy copies n 32-bit words: a kernel that only moves memory, whose bandwidth is
// the ceiling an image kernel can reach.
extern "C" __global__ void cudatest_copy(unsigned int *dst, const unsigned int *src, int n) {
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n) {
		dst[i] = src[i];
	}
}

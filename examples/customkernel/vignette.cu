// A vignette: darkens an image towards its corners, as a lens does. It is written in the
// plain subset of CUDA C that gpupipe's kernels use: one thread per pixel, no shared memory,
// no warp intrinsics. vignette.go holds the Go implementation that the CPU device runs; the
// two compute the same bytes because the arithmetic is integer only.
//
// A pixel at distance d from the centre keeps gain/256 of its colour, where
//
//     gain = 256 - strength * d² / r²
//
// and r is half the diagonal, so gain is 256 at the centre and 256 - strength in the
// corners. Distances are measured in half pixels from the centre of each pixel, which makes
// them whole numbers. Alpha, when there is any, is copied.
//
// src and dst hold one image of height rows of width pixels with channels (1, 3 or 4)
// interleaved bytes each, without row padding. The grid is two-dimensional and covers the
// image; threads outside it do nothing.
extern "C" __global__ void example_vignette(const unsigned char* src, unsigned char* dst,
                                            int width, int height, int channels, int strength) {
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= width || y >= height) {
        return;
    }
    long long dx = 2LL * x + 1 - width;
    long long dy = 2LL * y + 1 - height;
    long long r2 = (long long)width * width + (long long)height * height;
    int gain = 256 - (int)(strength * (dx * dx + dy * dy) / r2);
    long long i = ((long long)y * width + x) * channels;
    int colours = channels == 4 ? 3 : channels;
    for (int c = 0; c < colours; c++) {
        dst[i + c] = (unsigned char)((src[i + c] * gain + 128) >> 8);
    }
    if (channels == 4) {
        dst[i + 3] = src[i + 3];
    }
}

// Separable resampling: resize with antialiasing, Gaussian blur, and the fused
// resize-crop-flip-normalize of preprocessing.
//
// A 2-D resample is two launches. resample_h filters along x, reading bytes and writing float
// samples to an intermediate image; resample_v (or resample_v_norm) filters along y, reading
// the intermediate and writing the result. The per-axis tables (see Taps in common.cuh) are
// built on the host: the filter's support widens with the scale factor when downscaling, so
// every input pixel contributes (antialiasing), crops and flips of the output are folded into
// which table rows the outputs use, and borders renormalise the weights that remain.
//
// Four-channel images are filtered with premultiplied alpha, so that transparent pixels do not
// bleed their colour: the intermediate holds c*a for colours and a for alpha, and the vertical
// pass divides by the filtered alpha.
#include "common.cuh"
#include "color.cuh"

__device__ __forceinline__ const float* taps_row(const u8* t, int i, int* start, int* taps) {
    const Taps* h = (const Taps*)t;
    const int* st = (const int*)(t + sizeof(Taps));
    const int* row = st + h->n;
    const float* w = (const float*)(row + h->n);
    *start = st[i];
    *taps = h->taps;
    return w + (long long)row[i] * h->taps;
}

// resample_h: dst(x, y) = sum over k of w[k] * src(start + k, y), floats out.
// The destination is dw x dh = (output width) x (source height).
extern "C" __global__ void resample_h(const Job* jobs, int n, const u8* src, u8* dst, const u8* tab) {
    Job j;
    int x, y;
    if (!locate(jobs, n, &j, &x, &y)) {
        return;
    }
    int start, taps;
    const float* w = taps_row(tab + j.tab, x, &start, &taps);
    const u8* s = src + j.src + (long long)y * j.ss + (long long)start * j.c;
    float* d = (float*)(dst + j.dst + (long long)y * j.ds) + (long long)x * j.c;
    if (j.c == 1) {
        float a0 = 0.0f;
        for (int k = 0; k < taps; k++) {
            a0 += w[k] * (float)s[k];
        }
        d[0] = a0;
    } else if (j.c == 3) {
        float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f;
        for (int k = 0; k < taps; k++) {
            const u8* p = s + 3 * k;
            a0 += w[k] * (float)p[0];
            a1 += w[k] * (float)p[1];
            a2 += w[k] * (float)p[2];
        }
        d[0] = a0;
        d[1] = a1;
        d[2] = a2;
    } else {
        float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
        for (int k = 0; k < taps; k++) {
            const u8* p = s + 4 * k;
            int a = p[3];
            // colour times alpha is an exact integer below 2^16: no rounding before the weight.
            a0 += w[k] * (float)(p[0] * a);
            a1 += w[k] * (float)(p[1] * a);
            a2 += w[k] * (float)(p[2] * a);
            a3 += w[k] * (float)a;
        }
        d[0] = a0;
        d[1] = a1;
        d[2] = a2;
        d[3] = a3;
    }
}

// vsum filters column x of the intermediate at output row y into out[0..c), unpremultiplying
// four-channel pixels, and rounds to bytes.
__device__ __forceinline__ void vsum(const Job& j, const u8* src, const u8* t, int x, int y, u8* out) {
    int start, taps;
    const float* w = taps_row(t, y, &start, &taps);
    const u8* s = src + j.src + (long long)start * j.ss + (long long)x * j.c * 4;
    if (j.c == 1) {
        float a0 = 0.0f;
        for (int k = 0; k < taps; k++) {
            const float* p = (const float*)(s + (long long)k * j.ss);
            a0 += w[k] * p[0];
        }
        out[0] = to_u8(a0);
    } else if (j.c == 3) {
        float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f;
        for (int k = 0; k < taps; k++) {
            const float* p = (const float*)(s + (long long)k * j.ss);
            a0 += w[k] * p[0];
            a1 += w[k] * p[1];
            a2 += w[k] * p[2];
        }
        out[0] = to_u8(a0);
        out[1] = to_u8(a1);
        out[2] = to_u8(a2);
    } else {
        float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
        for (int k = 0; k < taps; k++) {
            const float* p = (const float*)(s + (long long)k * j.ss);
            a0 += w[k] * p[0];
            a1 += w[k] * p[1];
            a2 += w[k] * p[2];
            a3 += w[k] * p[3];
        }
        if (a3 > 0.0f) {
            out[0] = to_u8(a0 / a3);
            out[1] = to_u8(a1 / a3);
            out[2] = to_u8(a2 / a3);
        } else {
            out[0] = 0;
            out[1] = 0;
            out[2] = 0;
        }
        out[3] = to_u8(a3);
    }
}

// resample_v: dst(x, y) = round(sum over k of w[k] * src(x, start + k)), bytes out.
extern "C" __global__ void resample_v(const Job* jobs, int n, const u8* src, u8* dst, const u8* tab) {
    Job j;
    int x, y;
    if (!locate(jobs, n, &j, &x, &y)) {
        return;
    }
    u8 v[4];
    vsum(j, src, tab + j.tab, x, y, v);
    u8* d = dst + j.dst + (long long)y * j.ds + (long long)x * j.c;
    for (int ch = 0; ch < j.c; ch++) {
        d[ch] = v[ch];
    }
}

// resample_v_norm is resample_v followed by normalisation into planar float32: plane p of
// the output holds (float)v * scale[p] + bias[p], where v is the rounded byte of channel p
// (channel 0 for one-channel sources). i1 is the number of output planes; the table starts
// with a Norm record, the Taps follow it.
extern "C" __global__ void resample_v_norm(const Job* jobs, int n, const u8* src, u8* dst, const u8* tab) {
    Job j;
    int x, y;
    if (!locate(jobs, n, &j, &x, &y)) {
        return;
    }
    const Norm* nm = (const Norm*)(tab + j.tab);
    u8 v[4];
    vsum(j, src, tab + j.tab + sizeof(Norm), x, y, v);
    long long plane = (long long)j.dh * j.ds;
    u8* d = dst + j.dst + (long long)y * j.ds + (long long)x * 4;
    for (int p = 0; p < j.i1; p++) {
        int ch = j.c == 1 ? 0 : p;
        *(float*)(d + p * plane) = (float)v[ch] * nm->scale[p] + nm->bias[p];
    }
}

// resample_v_color is resample_v followed by the conversion to sRGB of color.cuh, on the
// rounded bytes, so that it computes exactly what resample_v and then color compute, without
// writing and reading the image in between. With i0 != 0 the table starts with the image's
// Color record and the Taps follow it; with i0 == 0 the table is the Taps alone and the
// pixels are not converted (an image without a profile in a batch of images with one).
extern "C" __global__ void resample_v_color(const Job* jobs, int n, const u8* src, u8* dst, const u8* tab) {
    Job j;
    int x, y;
    if (!locate(jobs, n, &j, &x, &y)) {
        return;
    }
    const u8* t = tab + j.tab;
    u8 v[4];
    vsum(j, src, j.i0 != 0 ? t + sizeof(Color) : t, x, y, v);
    u8* d = dst + j.dst + (long long)y * j.ds + (long long)x * j.c;
    if (j.i0 != 0) {
        color_pixel((const Color*)t, v, d, j.c);
        return;
    }
    for (int ch = 0; ch < j.c; ch++) {
        d[ch] = v[ch];
    }
}

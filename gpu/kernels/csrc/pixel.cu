// Per-pixel kernels: orientation (flips, rotations, transposes, copies), grey, lookup
// tables, normalisation to planar float32 and the unsharp-mask combination step.
#include "common.cuh"
#include "color.cuh"

// orient copies src into dst transformed by the EXIF orientation i0 (1..8): dst(x, y) is
// src(sx, sy) where, after swapping x and y for the transposing orientations 5..8, the
// coordinates are mirrored as the orientation says. Orientation 1 is a plain copy.
extern "C" __global__ void orient(const Job* jobs, int n, const u8* src, u8* dst, const u8* tab) {
    Job j;
    int x, y;
    if (!locate(jobs, n, &j, &x, &y)) {
        return;
    }
    int o = j.i0;
    int u = x, v = y;
    if (o >= 5) {
        u = y;
        v = x;
    }
    bool fx = o == 2 || o == 3 || o == 7 || o == 8;
    bool fy = o == 3 || o == 4 || o == 6 || o == 7;
    int sx = fx ? j.sw - 1 - u : u;
    int sy = fy ? j.sh - 1 - v : v;
    const u8* s = src + j.src + (long long)sy * j.ss + (long long)sx * j.c;
    u8* d = dst + j.dst + (long long)y * j.ds + (long long)x * j.c;
    for (int ch = 0; ch < j.c; ch++) {
        d[ch] = s[ch];
    }
}

// grey converts to one channel with the ITU-R BT.601 luma weights in 16-bit fixed point,
// (19595 r + 38470 g + 7471 b + 32768) >> 16, which is exact in integers everywhere. Alpha is
// dropped; one-channel sources are copied.
extern "C" __global__ void grey(const Job* jobs, int n, const u8* src, u8* dst, const u8* tab) {
    Job j;
    int x, y;
    if (!locate(jobs, n, &j, &x, &y)) {
        return;
    }
    const u8* s = src + j.src + (long long)y * j.ss + (long long)x * j.c;
    u8* d = dst + j.dst + (long long)y * j.ds + x;
    if (j.c == 1) {
        d[0] = s[0];
    } else {
        d[0] = (u8)((19595 * s[0] + 38470 * s[1] + 7471 * s[2] + 32768) >> 16);
    }
}

// lut maps every channel through its own 256-byte table: dst = tab[ch*256 + src].
extern "C" __global__ void lut(const Job* jobs, int n, const u8* src, u8* dst, const u8* tab) {
    Job j;
    int x, y;
    if (!locate(jobs, n, &j, &x, &y)) {
        return;
    }
    const u8* t = tab + j.tab;
    const u8* s = src + j.src + (long long)y * j.ss + (long long)x * j.c;
    u8* d = dst + j.dst + (long long)y * j.ds + (long long)x * j.c;
    for (int ch = 0; ch < j.c; ch++) {
        d[ch] = t[ch * 256 + s[ch]];
    }
}

// normalize turns interleaved bytes into planar float32: plane p of the output holds
// (float)v * scale[p] + bias[p] for the byte v of channel p (channel 0 for one-channel
// sources), from a Norm record in tab. i0 != 0 mirrors the image left to right; i1 is the
// number of output planes.
extern "C" __global__ void normalize(const Job* jobs, int n, const u8* src, u8* dst, const u8* tab) {
    Job j;
    int x, y;
    if (!locate(jobs, n, &j, &x, &y)) {
        return;
    }
    const Norm* nm = (const Norm*)(tab + j.tab);
    int sx = j.i0 != 0 ? j.sw - 1 - x : x;
    const u8* s = src + j.src + (long long)y * j.ss + (long long)sx * j.c;
    long long plane = (long long)j.dh * j.ds;
    u8* d = dst + j.dst + (long long)y * j.ds + (long long)x * 4;
    for (int p = 0; p < j.i1; p++) {
        int ch = j.c == 1 ? 0 : p;
        *(float*)(d + p * plane) = (float)s[ch] * nm->scale[p] + nm->bias[p];
    }
}

// unsharp combines an image with its blurred copy (in tab at byte offset tab, row stride i0):
// where |s - b| >= i1 (the threshold), dst = round(s + f0 * (s - b)); elsewhere dst = s. Alpha
// is copied.
extern "C" __global__ void unsharp(const Job* jobs, int n, const u8* src, u8* dst, const u8* tab) {
    Job j;
    int x, y;
    if (!locate(jobs, n, &j, &x, &y)) {
        return;
    }
    const u8* s = src + j.src + (long long)y * j.ss + (long long)x * j.c;
    const u8* b = tab + j.tab + (long long)y * j.i0 + (long long)x * j.c;
    u8* d = dst + j.dst + (long long)y * j.ds + (long long)x * j.c;
    int colours = j.c == 4 ? 3 : j.c;
    for (int ch = 0; ch < colours; ch++) {
        int diff = (int)s[ch] - (int)b[ch];
        int mag = diff < 0 ? -diff : diff;
        if (mag >= j.i1) {
            d[ch] = to_u8((float)s[ch] + j.f0 * (float)diff);
        } else {
            d[ch] = s[ch];
        }
    }
    if (j.c == 4) {
        d[3] = s[3];
    }
}

// color converts pixels to sRGB through the Color record at tab + j.tab (see color.cuh); with
// i0 == 0 the image has no record and is copied unchanged.
extern "C" __global__ void color(const Job* jobs, int n, const u8* src, u8* dst, const u8* tab) {
    Job j;
    int x, y;
    if (!locate(jobs, n, &j, &x, &y)) {
        return;
    }
    const u8* s = src + j.src + (long long)y * j.ss + (long long)x * j.c;
    u8* d = dst + j.dst + (long long)y * j.ds + (long long)x * j.c;
    if (j.i0 == 0) {
        for (int ch = 0; ch < j.c; ch++) {
            d[ch] = s[ch];
        }
        return;
    }
    color_pixel((const Color*)(tab + j.tab), s, d, j.c);
}

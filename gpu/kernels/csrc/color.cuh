// Conversion of 8-bit pixels to sRGB, shared by the color kernel (pixel.cu) and the resize
// fused with it (resample_v_color in resample.cu).
//
// A Color record (at the job's table offset) holds everything one source colour space needs:
//   float m[9]                 3x3 matrix, row-major: linear source RGB to linear sRGB
//   int pad[3]
//   float lin[3][256]          per channel, the linear value of each stored byte (the
//                              profile's tone curves, evaluated on the host)
//   u8 enc[COLOR_ENC_SIZE]     sRGB encoding: enc[i] = round(255 * sRGB(i / (SIZE - 1)))
// A pixel is linearised by table, multiplied by the matrix (every product and sum a separate
// float operation, in a fixed order), clamped to 0..1 and encoded by table. One-channel
// images use lin[0] and no matrix; alpha is copied.
#ifndef GPUPIPE_COLOR_CUH
#define GPUPIPE_COLOR_CUH

#include "common.cuh"

#define COLOR_ENC_SIZE 16384

struct Color {
    float m[9];
    int pad[3];
    float lin[3][256];
    u8 enc[COLOR_ENC_SIZE];
};

// color_encode maps a linear value to its sRGB byte through the record's table.
__device__ __forceinline__ u8 color_encode(const Color* cm, float v) {
    if (!(v > 0.0f)) {  // also NaN
        v = 0.0f;
    }
    if (v > 1.0f) {
        v = 1.0f;
    }
    int i = (int)(v * (float)(COLOR_ENC_SIZE - 1) + 0.5f);
    return cm->enc[i];
}

// color_pixel converts the c channels of s into d (which may be s).
__device__ __forceinline__ void color_pixel(const Color* cm, const u8* s, u8* d, int c) {
    if (c == 1) {
        d[0] = color_encode(cm, cm->lin[0][s[0]]);
        return;
    }
    float r = cm->lin[0][s[0]];
    float g = cm->lin[1][s[1]];
    float b = cm->lin[2][s[2]];
    float o0 = cm->m[0] * r + cm->m[1] * g + cm->m[2] * b;
    float o1 = cm->m[3] * r + cm->m[4] * g + cm->m[5] * b;
    float o2 = cm->m[6] * r + cm->m[7] * g + cm->m[8] * b;
    u8 a = c == 4 ? s[3] : 0;
    d[0] = color_encode(cm, o0);
    d[1] = color_encode(cm, o1);
    d[2] = color_encode(cm, o2);
    if (c == 4) {
        d[3] = a;
    }
}

#endif

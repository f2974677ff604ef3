#!/usr/bin/env python3
"""Writes a corpus of image-format variants and their reference decodes.

    scripts/format-corpus.py OUT

OUT/files/NAME is one variant of an accepted format: BMP (OS/2 headers, RLE4/RLE8, 16-bit
5-5-5 and 5-6-5, bit fields, palettes of any length, top-down), TIFF (every compression
Pillow's libtiff writes, 1-, 2-, 4-, 8-, 12-, 16- and 32-bit and float samples, planar,
tiled, BigTIFF, CMYK, Lab, YCbCr, min-is-white, orientation tags), GIF (a first frame smaller
than its logical screen), PNG (grey with a transparent colour, 16-bit), WebP (lossy, lossless,
alpha, animated). OUT/ref/NAME.png is the reference tool's decode of it, as 8-bit L, RGB or
RGBA, written only when the reference tool reads the file: Pillow, or vips for the files
Pillow does not read. High-bit samples are reduced to their top 8 bits and floating-point
samples are read on the 0..1 scale, as imgpipe reads them.

Needs python3 with Pillow and numpy; vips (libvips-tools) widens the TIFF set when present.
bench/formats reads the corpus and reports coverage and agreement.
"""
import io
import os
import shutil
import struct
import subprocess
import sys

import numpy as np
from PIL import Image, ImageOps

W, H = 67, 45


def picture(w=W, h=H):
    """A photo-like RGB picture: gradients, a disc, mild noise."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = x / (w - 1) * 255
    g = y / (h - 1) * 255
    b = 128 + 100 * np.sin((x + y) / 9)
    disc = (x - w * 0.6) ** 2 + (y - h * 0.4) ** 2 < (min(w, h) / 3) ** 2
    r[disc], g[disc] = 255 - r[disc], 255 - g[disc]
    a = np.stack([r, g, b], axis=-1) + rng.uniform(-3, 3, (h, w, 3))
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


def alpha_ramp(w=W, h=H):
    return np.tile(np.linspace(0, 255, w).astype(np.uint8), (h, 1))


def to8(im, transpose=True):
    """The reference 8-bit array of a decoded Pillow image."""
    if transpose:
        im = ImageOps.exif_transpose(im)
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return (np.asarray(im, dtype=np.uint16) >> 8).astype(np.uint8)
    if mode == "I":
        a = np.asarray(im, dtype=np.int64)
        return np.clip(a >> 24 if a.max() > 65535 else a >> 8 if a.max() > 255 else a, 0, 255).astype(np.uint8)
    if mode == "F":
        return np.clip(np.rint(np.asarray(im, dtype=np.float64) * 255), 0, 255).astype(np.uint8)
    if mode in ("LA", "PA", "RGBA") or (mode in ("P", "L", "RGB") and "transparency" in im.info):
        return np.asarray(im.convert("RGBA"))
    if mode in ("1", "L"):
        return np.asarray(im.convert("L"))
    if mode == "LAB":
        return None  # Pillow has no Lab to RGB conversion without a profile: vips decodes it
    return np.asarray(im.convert("RGB"))


def save_ref(out, name, arr):
    Image.fromarray(arr).save(os.path.join(out, "ref", name + ".png"))


def pillow_ref(out, name):
    try:
        with Image.open(os.path.join(out, "files", name)) as im:
            im.seek(0)
            im.load()
            # Pillow turns TIFFs by their Orientation tag as it loads them (libtiff decodes).
            arr = to8(im, transpose=not name.endswith(".tif"))
    except Exception as e:  # the reference tool does not read it
        print(f"  {name}: Pillow cannot read it ({e.__class__.__name__})", file=sys.stderr)
        return False
    if arr is None:
        return False
    save_ref(out, name, arr)
    return True


def vips_ref(out, name):
    if not shutil.which("vips"):
        return False
    dst = os.path.join(out, "ref", name + ".png")
    src = os.path.join(out, "files", name)
    r = subprocess.run(["vips", "colourspace", src, dst, "srgb"], capture_output=True)
    if r.returncode != 0:
        r = subprocess.run(["vips", "copy", src, dst], capture_output=True)
    return r.returncode == 0


def write(out, name, data):
    with open(os.path.join(out, "files", name), "wb") as f:
        f.write(data)


# --- BMP, written byte by byte: Pillow writes only the plain Windows kinds.

def bmp(width, height, bpp, rows, info=40, compression=0, palette=None, masks=None, top_down=False,
        clr_used=None, data=None):
    """A BMP file. rows are the stored rows (bottom-up unless top_down) already packed, or
    data is the whole pixel block (RLE)."""
    if data is None:
        stride = (width * bpp + 31) // 32 * 4
        data = b"".join(r.ljust(stride, b"\0") for r in rows)
    pal = b""
    if palette is not None:
        entry = 3 if info == 12 else 4
        pal = b"".join(bytes([b, g, r]) + (b"" if entry == 3 else b"\0") for r, g, b in palette)
    h = -height if top_down else height
    if info == 12:
        hdr = struct.pack("<IHHHH", 12, width, height, 1, bpp)
    else:
        n_used = len(palette) if clr_used is None and palette is not None else (clr_used or 0)
        hdr = struct.pack("<IiiHHIIiiII", info, width, h, 1, bpp, compression, len(data), 2835, 2835, n_used, 0)
        extra = b""
        if masks is not None and info == 40:
            extra = struct.pack("<III", *masks[:3])
        elif info > 40:
            m = list(masks or [0, 0, 0, 0]) + [0] * 4
            hdr += struct.pack("<IIII", *m[:4])
        hdr = hdr.ljust(info, b"\0")
        if info >= 108:
            hdr = hdr[:56] + b"BGRs" + hdr[60:]
        hdr += extra
    off = 14 + len(hdr) + len(pal)
    return b"BM" + struct.pack("<IHHI", off + len(data), 0, 0, off) + hdr + pal + data


def bmp_rle8(idx):
    """RLE8 with runs, literal runs and an end of line per row."""
    out = bytearray()
    for row in idx[::-1]:
        x = 0
        while x < len(row):
            run = 1
            while x + run < len(row) and row[x + run] == row[x] and run < 255:
                run += 1
            if run >= 3 or len(row) - x < 3:
                out += bytes([run, row[x]])
                x += run
            else:
                n = min(255, len(row) - x, 5)
                n = max(n, 3)
                out += bytes([0, n]) + bytes(row[x:x + n]) + (b"\0" if n % 2 else b"")
                x += n
        out += b"\0\0"
    return bytes(out + b"\0\1")


def bmp_rle4(idx):
    out = bytearray()
    for row in idx[::-1]:
        x = 0
        while x < len(row):
            n = min(len(row) - x, 6)
            if n >= 3 and x % 2 == 0:
                px = list(row[x:x + n]) + [0]
                lit = bytes((px[i] << 4) | px[i + 1] for i in range(0, n, 2))
                out += bytes([0, n]) + lit + (b"\0" if len(lit) % 2 else b"")
            else:
                n = min(n, 2)
                a, b = row[x], row[x + 1] if n == 2 else 0
                out += bytes([n, (a << 4) | b])
            x += n
        out += b"\0\0"
    return bytes(out + b"\0\1")


def bmps(out):
    pic = picture()
    pal_img = Image.fromarray(pic).quantize(256, dither=Image.Dither.NONE)
    pal = pal_img.getpalette()[:768]
    pal = [tuple(pal[i:i + 3]) for i in range(0, 768, 3)]
    idx = np.asarray(pal_img)
    files = {}
    rows8 = [bytes(r) for r in idx[::-1]]
    files["pal8.bmp"] = bmp(W, H, 8, rows8, palette=pal)
    files["pal8-topdown.bmp"] = bmp(W, H, 8, [bytes(r) for r in idx], palette=pal, top_down=True)
    files["pal8-os2v1.bmp"] = bmp(W, H, 8, rows8, info=12, palette=pal)
    files["pal8-os2v2.bmp"] = bmp(W, H, 8, rows8, info=64, palette=pal)
    files["pal8-v5.bmp"] = bmp(W, H, 8, rows8, info=124, palette=pal)
    files["pal8-rle8.bmp"] = bmp(W, H, 8, None, compression=1, palette=pal, data=bmp_rle8(idx))
    # A palette of 300 entries (more than 8 bits can index) and one of 20 with indexes past it.
    files["pal8-large.bmp"] = bmp(W, H, 8, rows8, palette=pal + [(1, 2, 3)] * 44, clr_used=300)
    idx4 = (idx % 16).astype(np.uint8)
    pal4 = pal[:16]
    rows4 = [bytes((r[i] << 4) | (r[i + 1] if i + 1 < len(r) else 0) for i in range(0, len(r), 2)) for r in idx4[::-1]]
    files["pal4.bmp"] = bmp(W, H, 4, rows4, palette=pal4)
    files["pal4-rle4.bmp"] = bmp(W, H, 4, None, compression=2, palette=pal4, data=bmp_rle4(idx4))
    idx1 = (idx % 2).astype(np.uint8)
    rows1 = [np.packbits(r).tobytes() for r in idx1[::-1]]
    files["pal1.bmp"] = bmp(W, H, 1, rows1, palette=[(10, 20, 200), (250, 240, 5)])
    files["pal1-os2v1.bmp"] = bmp(W, H, 1, rows1, info=12, palette=[(10, 20, 200), (250, 240, 5)])
    r, g, b = (pic[..., i].astype(np.uint32) for i in range(3))
    v555 = ((r >> 3) << 10) | ((g >> 3) << 5) | (b >> 3)
    v565 = ((r >> 3) << 11) | ((g >> 2) << 5) | (b >> 3)
    files["rgb555.bmp"] = bmp(W, H, 16, [v.astype("<u2").tobytes() for v in v555[::-1]])
    files["rgb565-bitfields.bmp"] = bmp(W, H, 16, [v.astype("<u2").tobytes() for v in v565[::-1]],
                                        compression=3, masks=[0xF800, 0x07E0, 0x001F])
    files["rgb555-bitfields-v4.bmp"] = bmp(W, H, 16, [v.astype("<u2").tobytes() for v in v555[::-1]],
                                           info=108, compression=3, masks=[0x7C00, 0x03E0, 0x001F, 0])
    a = alpha_ramp().astype(np.uint32)
    bgra = (r << 16) | (g << 8) | b | (a << 24)
    files["rgba32-v5.bmp"] = bmp(W, H, 32, [v.astype("<u4").tobytes() for v in bgra[::-1]], info=124,
                                 compression=3, masks=[0xFF0000, 0xFF00, 0xFF, 0xFF000000])
    files["rgb32-bitfields.bmp"] = bmp(W, H, 32, [v.astype("<u4").tobytes() for v in ((b << 24) | (g << 16) | (r << 8))[::-1]],
                                       compression=3, masks=[0xFF00, 0xFF0000, 0xFF000000])
    files["rgb32.bmp"] = bmp(W, H, 32, [v.astype("<u4").tobytes() for v in ((r << 16) | (g << 8) | b)[::-1]])
    files["rgb24.bmp"] = bmp(W, H, 24, [pic[y][:, ::-1].tobytes() for y in range(H - 1, -1, -1)])
    files["rgb24-os2v1.bmp"] = bmp(W, H, 24, [pic[y][:, ::-1].tobytes() for y in range(H - 1, -1, -1)], info=12)
    for name, data in files.items():
        write(out, name, data)
        pillow_ref(out, name)


# --- TIFF.

def tiff_bytes(width, height, tags, strips, big=False, le=True):
    """A TIFF (or BigTIFF) of the given tags {tag: (type, values)} and strip data."""
    e = "<" if le else ">"
    tags = dict(tags)
    types = {1: "B", 2: "s", 3: "H", 4: "I", 5: "II", 11: "f", 12: "d", 16: "Q"}
    size = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 11: 4, 12: 8, 16: 8}
    head = (b"II" if le else b"MM") + (struct.pack(e + "HHHQ", 43, 8, 0, 16) if big else struct.pack(e + "HI", 42, 8))
    data = bytearray()
    base = len(head)
    offsets = []
    for s in strips:
        offsets.append(base + len(data))
        data += s
        if len(data) % 2:
            data += b"\0"
    tags[273 if 322 not in tags else 324] = (16 if big else 4, offsets)
    tags[279 if 322 not in tags else 325] = (16 if big else 4, [len(s) for s in strips])
    tags[256], tags[257] = (4, [width]), (4, [height])
    ifd_at = base + len(data)
    n = len(tags)
    entry = 20 if big else 12
    extra_at = ifd_at + (8 if big else 2) + n * entry + (8 if big else 4)
    ifd = bytearray(struct.pack(e + ("Q" if big else "H"), n))
    extra = bytearray()
    for tag in sorted(tags):
        typ, vals = tags[tag]
        if typ == 2:
            raw = vals if isinstance(vals, bytes) else vals.encode() + b"\0"
            count = len(raw)
        elif typ == 7:
            raw, count = bytes(vals), len(vals)
        else:
            raw = b"".join(struct.pack(e + types[typ], *(v if isinstance(v, tuple) else (v,))) for v in vals)
            count = len(vals)
        ifd += struct.pack(e + ("HHQ" if big else "HHI"), tag, typ, count)
        room = 8 if big else 4
        if len(raw) <= room:
            ifd += raw.ljust(room, b"\0")
        else:
            ifd += struct.pack(e + ("Q" if big else "I"), extra_at + len(extra))
            extra += raw
            if len(extra) % 2:
                extra += b"\0"
    ifd += b"\0" * (8 if big else 4)
    if big:
        head = head[:8] + struct.pack(e + "Q", ifd_at)
    else:
        head = head[:4] + struct.pack(e + "I", ifd_at)
    return bytes(head + data + ifd + extra)


def pack_bits(arr, bits):
    """Packs the rows of a 2-D array of samples at bits per sample, MSB first, rows padded to
    a byte."""
    rows = []
    for r in arr:
        acc, n, out = 0, 0, bytearray()
        for v in r.reshape(-1):
            acc = (acc << bits) | int(v)
            n += bits
            while n >= 8:
                out.append((acc >> (n - 8)) & 0xFF)
                n -= 8
        if n:
            out.append((acc << (8 - n)) & 0xFF)
        rows.append(bytes(out))
    return b"".join(rows)


def tiffs(out):
    pic = picture()
    grey = np.asarray(Image.fromarray(pic).convert("L"))
    rgba = np.dstack([pic, alpha_ramp()])
    files = []

    def pil(name, img, **kw):
        try:
            img.save(os.path.join(out, "files", name), **kw)
            files.append(name)
        except Exception as e:
            print(f"  {name}: Pillow cannot write it ({e})", file=sys.stderr)

    rgb = Image.fromarray(pic)
    for comp in ["raw", "tiff_lzw", "tiff_deflate", "tiff_adobe_deflate", "packbits", "jpeg", "lzma", "zstd", "webp"]:
        pil(f"rgb-{comp}.tif", rgb, compression=comp)
    pil("rgba-lzw.tif", Image.fromarray(rgba), compression="tiff_lzw")
    pil("grey-deflate.tif", Image.fromarray(grey), compression="tiff_deflate")
    pil("grey-jpeg.tif", Image.fromarray(grey), compression="jpeg")
    bw = Image.fromarray(grey).convert("1")
    for comp in ["raw", "group3", "group4", "tiff_ccitt", "packbits"]:
        pil(f"bilevel-{comp}.tif", bw, compression=comp)
    pil("palette.tif", rgb.quantize(200), compression="tiff_lzw")
    pil("cmyk.tif", rgb.convert("CMYK"))
    pil("cmyk-lzw.tif", rgb.convert("CMYK"), compression="tiff_lzw")
    pil("ycbcr-jpeg.tif", rgb, compression="jpeg", quality=90)
    pil("lab.tif", rgb.convert("LAB"))
    g16 = (grey.astype(np.uint16) * 257 + np.arange(W, dtype=np.uint16)[None, :])
    pil("grey16.tif", Image.fromarray(g16, "I;16"))
    pil("grey16-deflate.tif", Image.fromarray(g16, "I;16"), compression="tiff_deflate")
    pil("int32.tif", Image.fromarray(grey.astype(np.int32) << 16, "I"))
    pil("float32.tif", Image.fromarray(grey.astype(np.float32) / 255, "F"))
    pil("float32-lzw.tif", Image.fromarray(grey.astype(np.float32) / 255, "F"), compression="tiff_lzw")
    # Orientation by the TIFF tag (Pillow applies it as it loads the reference).
    pil("orient6.tif", rgb, tiffinfo={274: 6})
    pil("orient3-lzw.tif", rgb, compression="tiff_lzw", tiffinfo={274: 3})
    pil("orient8-grey.tif", Image.fromarray(grey), tiffinfo={274: 8})

    # Hand-written: planar, 2/4/12-bit, 16-bit RGB, tiled, BigTIFF, min-is-white, big-endian.
    rgb_tags = {258: (3, [8, 8, 8]), 259: (3, [1]), 262: (3, [2]), 277: (3, [3]), 278: (4, [H])}
    planar = {**rgb_tags, 284: (3, [2])}
    write(out, "planar-rgb.tif", tiff_bytes(W, H, planar, [pic[..., i].tobytes() for i in range(3)]))
    files.append("planar-rgb.tif")
    p16 = (pic.astype(np.uint16) * 257).astype(">u2")
    tags16 = {258: (3, [16, 16, 16]), 259: (3, [1]), 262: (3, [2]), 277: (3, [3]), 278: (4, [H]), 284: (3, [2])}
    write(out, "planar-rgb16-be.tif", tiff_bytes(W, H, tags16, [p16[..., i].tobytes() for i in range(3)], le=False))
    files.append("planar-rgb16-be.tif")
    tags16i = {**tags16, 284: (3, [1])}
    write(out, "rgb16.tif", tiff_bytes(W, H, tags16i, [(pic.astype(np.uint16) * 257).astype("<u2").tobytes()]))
    files.append("rgb16.tif")
    for bits in (2, 4):
        q = (grey >> (8 - bits)).astype(np.uint8)
        t = {258: (3, [bits]), 259: (3, [1]), 262: (3, [1]), 277: (3, [1]), 278: (4, [H])}
        write(out, f"grey{bits}.tif", tiff_bytes(W, H, t, [pack_bits(q, bits)]))
        files.append(f"grey{bits}.tif")
    q12 = (g16 >> 4).astype(np.uint16)
    t = {258: (3, [12]), 259: (3, [1]), 262: (3, [1]), 277: (3, [1]), 278: (4, [H])}
    write(out, "grey12.tif", tiff_bytes(W, H, t, [pack_bits(q12, 12)]))
    files.append("grey12.tif")
    # Pillow reads 12-bit samples unscaled and planar 16-bit big-endian RGB wrongly, and vips
    # reads neither: their references are the pictures written.
    save_ref(out, "grey12.tif", (q12 >> 4).astype(np.uint8))
    save_ref(out, "planar-rgb16-be.tif", pic)
    t = {258: (3, [8]), 259: (3, [1]), 262: (3, [0]), 277: (3, [1]), 278: (4, [H])}
    write(out, "grey-miniswhite.tif", tiff_bytes(W, H, t, [(255 - grey).tobytes()]))
    files.append("grey-miniswhite.tif")
    # Tiles of 16×16, 16-bit RGB: edge tiles padded.
    tw = th = 16
    tiles = []
    padded = np.zeros(((H + th - 1) // th * th, (W + tw - 1) // tw * tw, 3), np.uint16)
    padded[:H, :W] = pic.astype(np.uint16) * 257
    for ty in range(0, padded.shape[0], th):
        for tx in range(0, padded.shape[1], tw):
            tiles.append(padded[ty:ty + th, tx:tx + tw].astype("<u2").tobytes())
    t = {258: (3, [16, 16, 16]), 259: (3, [1]), 262: (3, [2]), 277: (3, [3]), 322: (3, [tw]), 323: (3, [th])}
    write(out, "tiled-rgb16.tif", tiff_bytes(W, H, t, tiles))
    files.append("tiled-rgb16.tif")
    write(out, "bigtiff-rgb.tif", tiff_bytes(W, H, rgb_tags, [pic.tobytes()], big=True))
    files.append("bigtiff-rgb.tif")
    # XMP orientation (and no EXIF or tag orientation).
    xmp = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
           b'<rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="6"/></rdf:RDF></x:xmpmeta>')
    write(out, "xmp-orient6.tif", tiff_bytes(W, H, {**rgb_tags, 700: (7, list(xmp))}, [pic.tobytes()]))
    # Pillow does not read XMP orientation: the reference is turned here.
    with Image.open(os.path.join(out, "files", "xmp-orient6.tif")) as im:
        im.load()
        save_ref(out, "xmp-orient6.tif", to8(im.transpose(Image.Transpose.ROTATE_270), transpose=False))
    # vips: tiled, BigTIFF, predictor.
    if shutil.which("vips"):
        src = os.path.join(out, "src.png")
        rgb.save(src)
        for name, opts in [("vips-tiled-jpeg.tif", "[tile,tile-width=16,tile-height=16,compression=jpeg]"),
                           ("vips-bigtiff-lzw-pred.tif", "[bigtiff,compression=lzw,predictor=horizontal]"),
                           ("vips-deflate-pred.tif", "[compression=deflate,predictor=horizontal]")]:
            if subprocess.run(["vips", "copy", src, os.path.join(out, "files", name) + opts], capture_output=True).returncode == 0:
                files.append(name)
        os.remove(src)
    for name in files:
        if not os.path.exists(os.path.join(out, "ref", name + ".png")) and not pillow_ref(out, name):
            vips_ref(out, name)


# --- GIF, PNG, WebP.

def others(out):
    pic = picture()
    rgb = Image.fromarray(pic)
    # A GIF whose first frame covers part of its logical screen.
    small = Image.fromarray(picture(31, 20)).quantize(64)
    buf = io.BytesIO()
    small.save(buf, "GIF")
    g = bytearray(buf.getvalue())
    struct.pack_into("<HH", g, 6, W, H)  # logical screen
    at = g.index(b"\x2c")  # image descriptor
    struct.pack_into("<HH", g, at + 1, 12, 9)
    write(out, "gif-offset-frame.gif", bytes(g))
    # Grey PNGs with a transparent grey level, 8-bit and 16-bit, and 2-bit grey.
    grey = np.asarray(rgb.convert("L"))
    Image.fromarray(grey).save(os.path.join(out, "files", "grey-trns.png"), transparency=int(grey[5, 5]))
    Image.fromarray((grey >> 6).astype(np.uint8) * 85).convert("L").save(os.path.join(out, "files", "grey-trns-2bit.png"),
                                                                        transparency=170, bits=2)
    Image.fromarray(grey.astype(np.uint16) * 257, "I;16").save(os.path.join(out, "files", "grey16.png"))
    Image.fromarray(np.dstack([pic, alpha_ramp()])).save(os.path.join(out, "files", "rgba.png"))
    rgb.save(os.path.join(out, "files", "rgb-trns.png"), transparency=tuple(int(v) for v in pic[3, 3]))
    # WebP.
    rgb.save(os.path.join(out, "files", "lossy.webp"), quality=80)
    rgb.save(os.path.join(out, "files", "lossless.webp"), lossless=True)
    Image.fromarray(np.dstack([pic, alpha_ramp()])).save(os.path.join(out, "files", "lossy-alpha.webp"), quality=80)
    frames = [Image.fromarray(picture(W, H)), Image.fromarray(255 - pic)]
    frames[0].save(os.path.join(out, "files", "animated.webp"), save_all=True, append_images=frames[1:], duration=100)
    for name in ["gif-offset-frame.gif", "grey-trns.png", "grey-trns-2bit.png", "grey16.png", "rgba.png",
                 "rgb-trns.png", "lossy.webp", "lossless.webp", "lossy-alpha.webp", "animated.webp"]:
        pillow_ref(out, name)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    for d in ("files", "ref"):
        os.makedirs(os.path.join(out, d), exist_ok=True)
    bmps(out)
    tiffs(out)
    others(out)
    n = len(os.listdir(os.path.join(out, "files")))
    r = len(os.listdir(os.path.join(out, "ref")))
    print(f"{n} files, {r} with a reference decode, in {out}")


if __name__ == "__main__":
    main()

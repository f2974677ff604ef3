"""ImageNet training tensors from a folder of JPEGs with Pillow and numpy and a process pool,
the way a Python user would make them without a GPU library: JPEG draft mode (decoding at 1/2,
1/4 or 1/8 scale in the DCT domain, keeping the shorter side at least SIZE), a Lanczos resize
of the shorter side to SIZE, a centre crop of CROP, float32 scaled to [0, 1] and normalised
with ImageNet's mean and standard deviation, channels first, rows written to .npy shards.

Each process takes a contiguous part of the sorted files and writes its own shards
(part-P-NNNNN.npy, ROWS rows each), so no tensor crosses between processes: the fastest
arrangement for Python, which would otherwise pickle every 600 KB row to one writer.

Usage: python3 pillow_tensors.py IN_DIR OUT_DIR PROCESSES [ROWS] [SIZE] [CROP]
Prints the number of rows written.
"""
import os
import sys
from multiprocessing import Pool

import numpy as np
from PIL import Image

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32) * 255
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32) * 255


def tensor(path, size, crop, out):
    """Writes the CHW float32 tensor of the image at path into out (3×crop×crop)."""
    with Image.open(path) as im:
        im.draft("RGB", (size, size))
        im = im.convert("RGB")
        w, h = im.size
        if w <= h:
            rw, rh = size, max(1, round(h * size / w))
        else:
            rw, rh = max(1, round(w * size / h)), size
        im = im.resize((rw, rh), Image.LANCZOS)
        left, top = (rw - crop) // 2, (rh - crop) // 2
        im = im.crop((left, top, left + crop, top + crop))
        x = np.asarray(im, dtype=np.float32)
    x -= MEAN
    x /= STD
    out[...] = x.transpose(2, 0, 1)


def part(job):
    index, paths, out_dir, rows, size, crop = job
    shard = np.empty((rows, 3, crop, crop), dtype=np.float32)
    n = written = 0
    for path in paths:
        tensor(path, size, crop, shard[n])
        n += 1
        if n == rows:
            np.save(os.path.join(out_dir, "part-%d-%05d.npy" % (index, written // rows)), shard)
            written, n = written + n, 0
    if n:
        np.save(os.path.join(out_dir, "part-%d-%05d.npy" % (index, written // rows)), shard[:n])
        written += n
    return written


def main():
    src_dir, out_dir, procs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rows = int(sys.argv[4]) if len(sys.argv) > 4 else 1024
    size = int(sys.argv[5]) if len(sys.argv) > 5 else 256
    crop = int(sys.argv[6]) if len(sys.argv) > 6 else 224
    os.makedirs(out_dir, exist_ok=True)
    paths = [
        os.path.join(src_dir, name)
        for name in sorted(os.listdir(src_dir))
        if name.lower().endswith((".jpg", ".jpeg"))
    ]
    step = (len(paths) + procs - 1) // procs
    jobs = [(i, paths[i * step:(i + 1) * step], out_dir, rows, size, crop) for i in range(procs)]
    with Pool(procs) as pool:
        print(sum(pool.map(part, jobs)))


if __name__ == "__main__":
    main()

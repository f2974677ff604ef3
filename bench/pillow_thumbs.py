"""Thumbnails of every JPEG in a folder with Pillow and a process pool, the way a Python user
would make them today: JPEG draft mode (decoding at 1/2, 1/4 or 1/8 scale in the DCT domain,
keeping at least DRAFT times the target box, 2 by default as Image.thumbnail does), then an
antialiased Lanczos reduction. DRAFT 1 decodes smaller, faster and less sharp.

Usage: python3 pillow_thumbs.py IN_DIR OUT_DIR SIZE PROCESSES QUALITY [DRAFT]
Prints the number of thumbnails written.
"""
import os
import sys
from multiprocessing import Pool

from PIL import Image


def thumbnail(job):
    src, dst, size, quality, draft = job
    with Image.open(src) as im:
        im.draft("RGB", (draft * size, draft * size))
        im = im.convert("RGB")
        im.thumbnail((size, size), Image.LANCZOS)
        im.save(dst, "JPEG", quality=quality)
    return 1


def main():
    src_dir, dst_dir, size, procs, quality = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    draft = int(sys.argv[6]) if len(sys.argv) > 6 else 2
    os.makedirs(dst_dir, exist_ok=True)
    jobs = [
        (os.path.join(src_dir, name), os.path.join(dst_dir, name), size, quality, draft)
        for name in sorted(os.listdir(src_dir))
        if name.lower().endswith((".jpg", ".jpeg"))
    ]
    with Pool(procs) as pool:
        print(sum(pool.imap_unordered(thumbnail, jobs, chunksize=4)))


if __name__ == "__main__":
    main()

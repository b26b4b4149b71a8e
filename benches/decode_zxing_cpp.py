#!/usr/bin/env python3
"""zxing-cpp on the photos written by `cargo bench --bench decode`.

Usage: python3 benches/decode_zxing_cpp.py DIR [REPS]   (needs: pip install zxing-cpp==3.1.1 pillow numpy)

DIR holds the luma images Depot decoded and manifest.json (name, file, formats). Each image is
loaded outside the timed region; zxing-cpp reads it with the formats Depot searched for,
rotation and downscaling on, inversion off (as configured for the comparison in issue 19:
light-on-dark 1D codes are where zxing-cpp fails), text in Plain mode (GS1 separators as GS).
Prints one JSON line per image: name, the time of each run in ms, the texts found.
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import zxingcpp
from PIL import Image

NAMES = {
    "code128": "Code128",
    "ean13": "EAN13",
    "ean8": "EAN8",
    "upc_a": "UPCA",
    "upc_e": "UPCE",
    "code39": "Code39",
    "code93": "Code93",
    "codabar": "Codabar",
    "itf": "ITF",
    "qr_code": "QRCode",
    "data_matrix": "DataMatrix",
    "pdf417": "PDF417",
    "aztec": "Aztec",
    "data_bar": "DataBar",
    "data_bar_expanded": "DataBarExp",
}


def formats(names):
    return tuple(getattr(zxingcpp.BarcodeFormat, NAMES[n]) for n in names)


def main():
    root = Path(sys.argv[1])
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    manifest = json.loads((root / "manifest.json").read_text())
    for entry in manifest:
        img = np.asarray(Image.open(root / entry["file"]).convert("L"))
        fmts = formats(entry["formats"])
        times = []
        results = []
        for _ in range(reps):
            start = time.perf_counter()
            results = zxingcpp.read_barcodes(
                img,
                formats=fmts,
                try_rotate=True,
                try_downscale=True,
                try_invert=False,
                text_mode=zxingcpp.TextMode.Plain,
            )
            times.append((time.perf_counter() - start) * 1000.0)
        print(
            json.dumps(
                {
                    "name": entry["name"],
                    "times_ms": times,
                    "texts": [r.text for r in results],
                }
            )
        )


if __name__ == "__main__":
    main()

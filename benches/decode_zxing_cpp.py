#!/usr/bin/env python3
"""zxing-cpp timings on the images written by `cargo bench --bench decode`.

Usage: python3 benches/decode_zxing_cpp.py DIR [REPS]   (needs: pip install zxing-cpp==3.1.1 pillow numpy)

DIR holds the luma images rxing decoded (already downscaled as the service does) and
manifest.json. Each image is loaded outside the timed region; zxing-cpp reads it with the same
format sets as rxing (`default` and `narrow`), rotation on, inversion off (rxing does not try
inverted images either). Prints one JSON line per image and variant for the Rust bench, which
prints the combined table.
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
        for variant in ("default", "narrow"):
            fmts = formats(entry[variant])
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
            expected = entry["expected"]
            texts = [r.text for r in results]
            if expected is None:
                read = not texts
            else:
                read = expected in texts
            print(
                json.dumps(
                    {
                        "size": entry["size"],
                        "group": entry["group"],
                        "variant": variant,
                        "times_ms": times,
                        "read": read,
                    }
                )
            )


if __name__ == "__main__":
    main()

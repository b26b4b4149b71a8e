#!/usr/bin/env python3
"""zxing-cpp on the photos written by `cargo bench --bench decode`.

Usage: python3 benches/decode_zxing_cpp.py DIR [REPS] [--serve]
(needs: pip install zxing-cpp==3.1.1 pillow numpy)

With --serve, reads one photo name per line from stdin and answers each at once, so that the
bench can time zxing-cpp right after Depot on the same photo (the machine's speed drifts
between the two halves of a run that times all of one, then all of the other).

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


def answer(root, entry, reps):
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
    return {
        "name": entry["name"],
        "times_ms": times,
        "texts": [r.text for r in results],
    }


def main():
    args = [a for a in sys.argv[1:] if a != "--serve"]
    root = Path(args[0])
    reps = int(args[1]) if len(args) > 1 else 3
    manifest = json.loads((root / "manifest.json").read_text())
    if "--serve" in sys.argv:
        by_name = {entry["name"]: entry for entry in manifest}
        for line in sys.stdin:
            entry = by_name.get(line.strip())
            reply = answer(root, entry, reps) if entry else {"name": line.strip()}
            print(json.dumps(reply), flush=True)
        return
    for entry in manifest:
        print(json.dumps(answer(root, entry, reps)))


if __name__ == "__main__":
    main()

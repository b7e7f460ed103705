"""Preparing an upload (checks, decode, orientation, three WebP widths): time and memory.

    python -m benchmarks.images [--repeat 3]

Pure CPU, no server: `shop.images.processing.prepare` on photos drawn here (JPEG of 12 and
24 megapixels, a PNG screenshot), each beside the same work without JPEG draft decoding
(the full-size decode a naive resize does), in a fresh process each so that the peak RSS
belongs to that one call. Numbers are this machine's; compare the ratios.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import resource
import time

from PIL import Image, ImageDraw

from shop.images import processing

LIMITS = processing.Limits(max_bytes=64 * 1024 * 1024, max_pixels=100_000_000)


def photo(width: int, height: int, fmt: str) -> bytes:
    image = Image.new("RGB", (width, height), (30, 60, 120))
    draw = ImageDraw.Draw(image)
    for n in range(0, width, 37):  # detail, so the encoder has something to do
        draw.line([(n, 0), (width - n, height)], fill=(n % 255, 180, 90), width=5)
    out = io.BytesIO()
    image.save(out, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return out.getvalue()


def _without_draft(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        upright = image.convert("RGB")
    for width in processing.rendition_widths(upright.width):
        processing._render(upright, width)


def _run(task: str, data: bytes, repeat: int, results) -> None:
    work = (lambda: processing.prepare(data, LIMITS)) if task == "prepare" else (
        lambda: _without_draft(data))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    for _ in range(repeat):
        work()
    seconds = (time.perf_counter() - started) / repeat
    peak_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    results.put((seconds, peak_mb))


def measure(task: str, data: bytes, repeat: int) -> tuple[float, float]:
    results = multiprocessing.Queue()
    process = multiprocessing.Process(target=_run, args=(task, data, repeat, results))
    process.start()
    outcome = results.get()
    process.join()
    return outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for name, (width, height, fmt) in {"12 MP JPEG": (4000, 3000, "JPEG"),
                                       "24 MP JPEG": (6000, 4000, "JPEG"),
                                       "2 MP PNG": (1920, 1080, "PNG")}.items():
        data = photo(width, height, fmt)
        ours = measure("prepare", data, args.repeat)
        naive = measure("naive", data, args.repeat)
        rows.append({"upload": name, "bytes": len(data), "prepare_s": round(ours[0], 3),
                     "prepare_peak_rss_mb": round(ours[1]), "full_decode_s": round(naive[0], 3),
                     "full_decode_peak_rss_mb": round(naive[1]),
                     "time_ratio": round(ours[0] / naive[0], 2)})
    for row in rows:
        print(json.dumps(row))


if __name__ == "__main__":
    main()

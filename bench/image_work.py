"""What the upload route's picture work costs, step by step, on the bench's phone photo (bench/limits.md).

    python -m bench.image_work [--rounds 30]

Prints the median CPU milliseconds of each step of sidecar/uploads.py's clean() on one thread: open (header),
decode, turn (EXIF orientation), encode (its own JPEG tables, no metadata), MD5; and clean() as a whole.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import statistics
import time

from PIL import Image

from bench.photo import phone_photo
from sidecar.uploads import clean, upright


def steps(data: bytes) -> dict[str, float]:
    """CPU milliseconds of each step of cleaning data once."""
    marks = [time.thread_time()]
    image = Image.open(io.BytesIO(data))
    marks.append(time.thread_time())
    image.load()
    marks.append(time.thread_time())
    turned = upright(image)
    marks.append(time.thread_time())
    out = io.BytesIO()
    turned.save(out, format="JPEG", qtables=Image.open(io.BytesIO(data)).quantization)
    marks.append(time.thread_time())
    hashlib.md5(out.getbuffer()).hexdigest()
    marks.append(time.thread_time())
    clean(data)
    marks.append(time.thread_time())
    names = ("open", "decode", "turn", "encode", "md5", "clean() in all")
    return {name: (marks[i + 1] - marks[i]) * 1000 for i, name in enumerate(names)}


def measure(rounds: int) -> dict[str, float]:
    """The median of each step over rounds."""
    data = phone_photo()
    runs = [steps(data) for _ in range(rounds)]
    return {name: statistics.median(run[name] for run in runs) for name in runs[0]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.image_work")
    parser.add_argument("--rounds", type=int, default=30)
    rounds = parser.parse_args(argv).rounds
    for name, ms in measure(rounds).items():
        print(f"{name:16s} {ms:7.2f} ms")


if __name__ == "__main__":
    main()

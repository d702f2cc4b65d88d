"""Real media built by hand for tests."""
from __future__ import annotations

import random
import struct
import zlib


def png(width: int = 16, height: int = 16, seed: int = 12345, min_size: int = 0) -> bytes:
    """A real, decodable RGB PNG of noisy pixels, stored without compression so its size is
    predictable; grown (doubling the sides) until it has at least `min_size` bytes."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    while True:
        rng = random.Random(seed)
        raw = b"".join(b"\x00" + rng.randbytes(width * 3) for _ in range(height))
        data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 0)) + chunk(b"IEND", b""))
        if len(data) >= min_size:
            return data
        width, height = width * 2, height * 2

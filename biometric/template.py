"""The palm-vein template and its versioned binary format."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from biometric.errors import TemplateFormatError

#: Current algorithm: binary orientation code (BOCV), one bit per filter of 2 scales (18, 30 px)
#: x 6 orientations, 4 px cells: 12 bit planes of 32 x 32 (docs/RECOGNITION.md). Before it,
#: ``compcode-2s6o-c4-v3``: the competitive code of the same filters (the winning orientation,
#: 6 planes); v2 had taken wavelengths 18 and 30 px instead of 14 and 24.
ALGORITHM = "bocv-2s6o-c4-v1"
FORMAT_VERSION = 1
MAGIC = b"PVT"
MAX_BYTES = 4096

# magic, format version, algorithm id length, planes, rows, cols
_HEADER = struct.Struct("<3sBBBBB")


@dataclass(frozen=True, eq=False)
class Template:
    """A palm-vein template: bit planes of an orientation code and a validity mask.

    Rows of the code grid are stored as little-endian uint32 words whose bit
    ``c`` is column ``c``, so column shifts are bit shifts and comparisons
    are XOR and popcount.

    Attributes
    ----------
    planes : (P, R) uint32 ndarray
        Code bit planes, one word per grid row.
    mask : (R,) uint32 ndarray
        Bit set where the cell lies on the palm and its code is usable.
    cols : int
        Number of used columns (<= 32).
    algorithm : str
        Identifier of the extraction algorithm; templates of different
        algorithms are never compared.
    """

    planes: npt.NDArray[np.uint32]
    mask: npt.NDArray[np.uint32]
    cols: int
    algorithm: str = ALGORITHM

    def __post_init__(self) -> None:
        if self.planes.ndim != 2 or self.mask.shape != (self.planes.shape[1],):
            raise TemplateFormatError("template planes and mask shapes disagree")
        if not 1 <= self.cols <= 32:
            raise TemplateFormatError(f"template has {self.cols} columns (1-32 allowed)")
        self.planes.setflags(write=False)
        self.mask.setflags(write=False)

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols) of the code grid."""
        return int(self.planes.shape[1]), self.cols

    @classmethod
    def from_bits(
        cls, planes: npt.NDArray[np.bool_], mask: npt.NDArray[np.bool_], algorithm: str = ALGORITHM
    ) -> Template:
        """Pack boolean planes (P, R, C) and mask (R, C) into a template."""
        return cls(_pack_rows(planes), _pack_rows(mask), int(planes.shape[-1]), algorithm)

    def to_bytes(self) -> bytes:
        """Serialise: header, algorithm id, planes, mask, CRC32 of all before it."""
        algo = self.algorithm.encode("ascii")
        rows = self.planes.shape[1]
        head = _HEADER.pack(MAGIC, FORMAT_VERSION, len(algo), self.planes.shape[0], rows, self.cols)
        body = head + algo + self.planes.astype("<u4").tobytes() + self.mask.astype("<u4").tobytes()
        return body + struct.pack("<I", zlib.crc32(body))

    @classmethod
    def from_bytes(cls, data: bytes) -> Template:
        """Decode bytes made by :meth:`to_bytes`; raise TemplateFormatError if invalid."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TemplateFormatError(f"expected bytes, got {type(data).__name__}")
        data = bytes(data)
        if len(data) < _HEADER.size + 4 or len(data) > MAX_BYTES:
            raise TemplateFormatError(f"template of {len(data)} bytes has an impossible size")
        body, (crc,) = data[:-4], struct.unpack("<I", data[-4:])
        if zlib.crc32(body) != crc:
            raise TemplateFormatError("template checksum mismatch: the bytes are corrupt")
        magic, version, algo_len, n_planes, rows, cols = _HEADER.unpack_from(body)
        if magic != MAGIC:
            raise TemplateFormatError("not a palmvein template (bad magic)")
        if version != FORMAT_VERSION:
            raise TemplateFormatError(f"unsupported template format version {version}")
        offset = _HEADER.size
        expected = offset + algo_len + 4 * rows * (n_planes + 1)
        if len(body) != expected:
            raise TemplateFormatError("template length does not match its header")
        algorithm = body[offset : offset + algo_len].decode("ascii", errors="replace")
        offset += algo_len
        planes = np.frombuffer(body, "<u4", n_planes * rows, offset).reshape(n_planes, rows)
        mask = np.frombuffer(body, "<u4", rows, offset + 4 * n_planes * rows)
        return cls(planes.astype(np.uint32), mask.astype(np.uint32), cols, algorithm)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Template):
            return NotImplemented
        return self.to_bytes() == other.to_bytes()

    def __hash__(self) -> int:
        return hash(self.to_bytes())


def _pack_rows(bits: npt.NDArray[np.bool_]) -> npt.NDArray[np.uint32]:
    """Words whose bit ``c`` is ``bits[..., c]`` (at most 32 columns)."""
    if bits.dtype != np.bool_ or bits.shape[-1] > 32:
        weights = (np.uint64(1) << np.arange(bits.shape[-1], dtype=np.uint64)).astype(np.uint64)
        return np.asarray((bits.astype(np.uint64) * weights).sum(axis=-1).astype(np.uint32))
    # Little-endian bit order within bytes and bytes within the word: bit c of
    # the word is column c.
    packed = np.packbits(bits, axis=-1, bitorder="little")
    words = np.zeros((*bits.shape[:-1], 4), dtype=np.uint8)
    words[..., : packed.shape[-1]] = packed
    return words.view("<u4")[..., 0].astype(np.uint32)

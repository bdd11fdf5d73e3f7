"""The wire format between a device and the BS: one fixed 100-byte header in network
byte order (:data:`HEADER`), then ``length`` payload bytes; docs/testbed.md ("The wire
format") has each field, the order they are checked in and what a reply's stamps mean.

A device opens its connection with a *hello* (its token, no payload, not answered), then
sends *requests* (the output of its stage ``p``); the BS answers each with a *reply* (the
network's output and its timestamps) or an *error* (a line of text) before it closes the
connection. Nothing received is ever unpickled or handed to ``torch.load``: a payload is
raw little-endian float32 values, and the header alone says how many. Anything that breaks
the format is a :class:`FrameError` naming the field.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import struct
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

from dnnsplit.chains import Chain, chain_figures

__all__ = [
    "HEADER",
    "KIND_ERROR",
    "KIND_HELLO",
    "KIND_REPLY",
    "KIND_REQUEST",
    "FrameError",
    "Header",
    "cut_bytes",
    "cut_shapes",
    "encode",
    "error_frame",
    "parse_header",
    "printable",
    "tensor_payload",
    "token_digest",
]

MAGIC = b"DNNS"
VERSION = 2
KIND_REQUEST, KIND_REPLY, KIND_ERROR, KIND_HELLO = 1, 2, 3, 4
KINDS = {KIND_REQUEST: "request", KIND_REPLY: "reply", KIND_ERROR: "error", KIND_HELLO: "hello"}
DTYPE_FLOAT32 = 1
MAX_NDIM = 4
#: The longest error text a BS sends (and a device reads).
MAX_ERROR_BYTES = 4096
#: magic, version, kind, device, point, dtype, ndim, shape[4], length, auth, stamps[4]
HEADER = struct.Struct("!4sBBHHBB4IQ32s4d")
NO_TOKEN = bytes(32)


class FrameError(ValueError):
    """A frame that breaks the format: ``"<field>: <problem>"``, one line."""

    def __init__(self, field: str, problem: str) -> None:
        self.field, self.problem = field, problem
        super().__init__(f"{field}: {problem}")


@dataclass(frozen=True)
class Header:
    """A decoded header (see the module docstring for each field)."""

    kind: int
    device: int
    point: int
    shape: tuple[int, ...]
    length: int
    auth: bytes = NO_TOKEN
    stamps: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    dtype: int = DTYPE_FLOAT32

    def pack(self) -> bytes:
        dims = list(self.shape) + [0] * (MAX_NDIM - len(self.shape))
        return HEADER.pack(MAGIC, VERSION, self.kind, self.device, self.point, self.dtype,
                           len(self.shape), *dims, self.length, self.auth,
                           *self.stamps)  # fmt: skip


def token_digest(token: str | None) -> bytes:
    """The auth field for ``token``: its SHA-256, or 32 zero bytes without a token."""
    return NO_TOKEN if token is None else hashlib.sha256(token.encode("utf-8")).digest()


def printable(text: str) -> str:
    """``text`` safe for a terminal and one line: every control or other unprintable
    character (an ANSI escape, a line break, a bidi override) written as its escape
    (``\x1b``, ``\n``, ``\u202e``)."""
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text
    )


def cut_shapes(chain: Chain) -> list[tuple[int, ...]]:
    """The tensor shape (batch 1) a device sends at each point ``p = 0..S-1``."""
    return [(1, *chain.input_shape)] + [(1, *f.output_shape) for f in chain_figures(chain)[:-1]]


def cut_bytes(chain: Chain) -> list[int]:
    """The bytes of the float32 tensor after each stage ``s = 0..S`` (0: the input; ``S``:
    the network's output, a reply's payload)."""
    shapes = [*cut_shapes(chain), (1, *chain_figures(chain)[-1].output_shape)]
    return [4 * math.prod(shape) for shape in shapes]


def parse_header(
    data: bytes,
    *,
    expect: int | Collection[int],
    max_payload: int,
    chain: Chain | None = None,
    auth: bytes | None = None,
) -> Header:
    """Decode and check one header; raise :class:`FrameError` on anything wrong.

    Parameters
    ----------
    data : bytes
        Exactly :data:`HEADER`.size bytes.
    expect : int or collection of int
        The kinds this side accepts: :data:`KIND_HELLO` and :data:`KIND_REQUEST` (the BS),
        :data:`KIND_REPLY` (a device; an error frame is then accepted too, and returned).
    max_payload : int
        The largest tensor payload accepted, bytes (checked before any payload is read;
        an error text has its own limit, :data:`MAX_ERROR_BYTES`).
    chain : Chain, optional
        For a request: the network whose cut points fix the allowed ``point`` and shape.
    auth : bytes, optional
        For a hello or a request: the token digest the auth field must equal
        (constant-time compare), checked before every field but the first three.
    """
    if len(data) != HEADER.size:
        raise FrameError("header", f"{len(data)} bytes, expected {HEADER.size}")
    fields = HEADER.unpack(data)
    magic, version, kind, device, point, dtype, ndim = fields[:7]
    dims, length, digest, stamps = fields[7:11], fields[11], fields[12], fields[13:17]
    if magic != MAGIC:
        raise FrameError("magic", f"{magic!r} is not {MAGIC!r}")
    if version != VERSION:
        raise FrameError("version", f"{version} is not supported (this side speaks {VERSION})")
    allowed = (expect,) if isinstance(expect, int) else tuple(expect)
    if KIND_REPLY in allowed:
        allowed += (KIND_ERROR,)
    if kind not in allowed:
        wanted = " or ".join(KINDS[k] for k in allowed if k != KIND_ERROR)
        raise FrameError("kind", f"{KINDS.get(kind, str(kind))} where a {wanted} was expected")
    if auth is not None and kind in (KIND_HELLO, KIND_REQUEST) and not hmac.compare_digest(
        digest, auth
    ):
        raise FrameError("auth", "the token does not match")
    if kind == KIND_HELLO:
        if length:
            raise FrameError("length", f"a {KINDS[kind]} carries no payload, not {length} bytes")
        if ndim or any(dims):
            raise FrameError("shape", f"a {KINDS[kind]} carries no tensor")
        return Header(kind, device, 0, (), 0, digest)
    if kind == KIND_ERROR:
        if length > MAX_ERROR_BYTES:
            raise FrameError("length", f"an error text of {length} bytes is too long")
        return Header(kind, device, point, (), length)
    if length > max_payload:
        raise FrameError("length", f"{length} bytes exceeds the limit of {max_payload}")
    if dtype != DTYPE_FLOAT32:
        raise FrameError("dtype", f"type code {dtype} is not 1 (float32)")
    if not 1 <= ndim <= MAX_NDIM:
        raise FrameError("ndim", f"{ndim} dimensions; 1 to {MAX_NDIM} allowed")
    if any(dims[ndim:]):
        raise FrameError("shape", "unused dimensions must be 0")
    shape = tuple(int(d) for d in dims[:ndim])
    if math.prod(shape) * 4 != length:
        raise FrameError("length", f"{length} bytes do not hold a float32 tensor of {shape}")
    if kind == KIND_REPLY and not all(math.isfinite(s) for s in stamps):
        raise FrameError("stamps", "a reply's timestamps must be finite")
    shapes = cut_shapes(chain) if chain is not None else []
    if chain is not None and not 0 <= point < len(shapes):
        raise FrameError("point", f"{point} is not a cut of {chain.name} (0..{len(shapes) - 1})")
    if chain is not None and shape != shapes[point]:
        raise FrameError("shape", f"{shape} is not the shape {shapes[point]} sent at point {point}")
    return Header(kind, device, point, shape, length, digest, tuple(stamps), dtype)


def encode(header: Header, payload: bytes = b"") -> bytes:
    """One frame: the packed header, then ``payload``."""
    if len(payload) != header.length:
        raise ValueError(f"payload of {len(payload)} bytes, header says {header.length}")
    return header.pack() + payload


def error_frame(text: str) -> bytes:
    """An error frame carrying ``text`` (cut to :data:`MAX_ERROR_BYTES` bytes of UTF-8)."""
    data = text.encode("utf-8")[:MAX_ERROR_BYTES].decode("utf-8", "ignore").encode("utf-8")
    return encode(Header(KIND_ERROR, 0, 0, (), len(data)), data)


def tensor_payload(array: np.ndarray) -> bytes:
    """The payload of a float32 tensor: its values as little-endian bytes, C order."""
    return np.ascontiguousarray(array, dtype="<f4").tobytes()

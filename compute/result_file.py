"""Writing big results to files, streamed and atomic, and reading them back.

Formats:

- ``dec``: decimal digits and a newline, converted in parallel when large
  (:mod:`compute.decimal_conversion`);
- ``hex``: lowercase hexadecimal digits, no ``0x``, and a newline;
- ``bin``: the magnitude as raw big-endian bytes, nothing else (empty for 0).

The file is written under a temporary name beside the final one and renamed
over it at the end, so an interrupted run never leaves a truncated file
under the final name.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from gmpy2 import mpz

from compute.atomic_file import atomic_file
from compute.chunk_writes import workers_write
from compute.chunked import ChunkedInteger
from compute.decimal_conversion import digits_reporting
from compute.output import digit_count, hex_text
from compute.progress import ProgressCallback, TextBar
from compute.validate import as_mpz

if TYPE_CHECKING:
    from distributed import Client

FORMATS = ("dec", "hex", "bin")
# Bytes of the value handled at a time by the hex and bin writers.
_BLOCK = 1 << 22


def _check_format(format: str) -> None:
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")


def check_output(path: str | os.PathLike[str], format: str) -> Path:
    """``path`` as a Path if a result can be written there in ``format``.

    Raises
    ------
    ValueError
        If ``format`` is not one of dec, hex, bin, ``path`` is a directory,
        its folder does not exist, or its name is too long for the file
        system (with the temporary name it is first written under).
    """
    _check_format(format)
    path = Path(path)
    try:
        if path.is_dir():
            raise ValueError(f"output path {str(path)!r} is a directory")
    except OSError as error:  # a name too long for the file system, ...
        raise ValueError(f"output path {str(path)!r}: {error.strerror}") from error
    if not path.parent.is_dir():
        raise ValueError(f"the folder of output path {str(path)!r} does not exist")
    # The file is first written under a temporary name (atomic_file), longer
    # than its own by _TEMPORARY_EXTRA bytes: both must fit the file system.
    longest = _name_max(path.parent) - _TEMPORARY_EXTRA
    if len(os.fsencode(path.name)) > longest:
        raise ValueError(
            f"the name of output path {str(path)!r} is too long: the file system "
            f"takes {longest} bytes at most here"
        )
    return path


# mkstemp's ".<name>." prefix, 8 random characters and ".part" suffix.
_TEMPORARY_EXTRA = 2 + 8 + len(".part")


def _name_max(folder: Path) -> int:
    """The longest file name, in bytes, that ``folder``'s file system takes."""
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):  # not known here: POSIX's usual limit
        return 255


class _WriteProgress:
    """What a write has done, for a :class:`compute.progress.TextBar`.

    A decimal file is mostly conversion: its parts finishing count for
    ``CONVERSION_SHARE`` of the bar, the bytes written for the rest. The
    other formats only write.
    """

    CONVERSION_SHARE = 0.9

    def __init__(self, total: int, converts: bool) -> None:
        self.total = max(total, 1)
        self.written = 0
        self.converted = 0.0
        self.share = self.CONVERSION_SHARE if converts else 0.0

    def on_converted(self, fraction: float) -> None:
        self.converted = fraction

    def fraction(self) -> float:
        written = min(self.written / self.total, 1.0)
        return self.share * self.converted + (1 - self.share) * written


def file_bytes(bits: float, format: str) -> float:
    """Estimated bytes of a file of a non-negative value of ``bits`` bits in
    ``format``, a little above its size (sign and newline included)."""
    _check_format(format)
    if math.isinf(bits):
        return math.inf
    if format == "bin":
        return math.ceil(bits / 8)
    if format == "hex":
        return math.ceil(bits / 4) + 1
    return math.ceil(bits * math.log10(2)) + 2


def _encoded_size(value: mpz, format: str) -> int:
    """Bytes that ``format`` takes for ``value`` (digit_count is exact)."""
    sign = int(value < 0)
    if format == "bin":
        return (value.bit_length() + 7) // 8
    if format == "hex":
        return sign + max(1, (abs(value).bit_length() + 3) // 4) + 1
    return sign + digit_count(value) + 1


def _magnitude_blocks(value: mpz) -> Iterator[memoryview]:
    data = memoryview(value.to_bytes((value.bit_length() + 7) // 8, "big"))
    for start in range(0, len(data), _BLOCK):
        yield data[start : start + _BLOCK]


def _encoded(
    value: mpz,
    format: str,
    client: Client | None,
    on_converted: ProgressCallback | None = None,
) -> Iterable[bytes | memoryview]:
    """``value`` in ``format``, as consecutive runs of bytes."""
    if format == "bin":
        yield from _magnitude_blocks(value)
        return
    if format == "hex":
        if value < 0:
            yield b"-"
        yield from hex_text(_magnitude_blocks(abs(value)))
        return
    for chunk in digits_reporting(value, client, on_converted):
        yield chunk.encode("ascii")
    yield b"\n"


def write_result(
    value: int | ChunkedInteger,
    path: str | os.PathLike[str],
    *,
    format: str = "dec",
    client: Client | None = None,
    progress: TextIO | None = None,
) -> Path:
    """Write ``value`` to ``path``, streamed, and atomically.

    Parameters
    ----------
    value : int, gmpy2.mpz or ChunkedInteger
        The integer to write (``bin`` takes non-negative ones only). A
        :class:`compute.ChunkedInteger` is written chunk by chunk in ``bin``
        and ``hex``, never whole in any process: by the workers themselves
        when they all see the file's folder, else streamed through this one.
    path : str or path-like
        The file to create or replace. Its folder must exist.
    format : {"dec", "hex", "bin"}
        Decimal text, hexadecimal text, or raw big-endian bytes.
    client : distributed.Client, optional
        Where a large decimal conversion runs; see
        :func:`compute.decimal_chunks`.
    progress : text stream, optional
        A terminal to show a bar of the bytes written on (the command line
        passes its status stream when it is one).

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    ValueError
        If ``format`` or ``path`` is unusable (checked before any work), or
        ``format`` is ``bin`` and ``value`` is negative.

    Examples
    --------
    >>> import compute, gmpy2, tempfile, os
    >>> folder = tempfile.TemporaryDirectory()
    >>> path = os.path.join(folder.name, "30.txt")
    >>> _ = compute.write_result(gmpy2.fac(30), path)
    >>> open(path).read()
    '265252859812191058636308480000000\\n'
    >>> folder.cleanup()
    """
    target = check_output(path, format)
    if isinstance(value, ChunkedInteger):
        if format == "dec":  # decimal needs the whole value: assembled here
            value = value.to_mpz()
        else:
            with atomic_file(target) as handle:
                if not workers_write(value, handle, format, target):
                    for block in value.encoded(format):
                        handle.write(block)
            return target
    number = as_mpz(value)
    if format == "bin" and number < 0:
        raise ValueError("format bin holds non-negative integers; got a negative")
    done = _WriteProgress(_encoded_size(number, format), converts=format == "dec")
    with contextlib.ExitStack() as stack:
        handle = stack.enter_context(atomic_file(target))
        if progress is not None:
            stack.enter_context(TextBar(progress, "Written", done.fraction))
        for piece in _encoded(number, format, client, done.on_converted):
            handle.write(piece)
            done.written += len(piece)
    return target


_NOT_DIGITS = {"dec": re.compile(rb"[^0-9]"), "hex": re.compile(rb"[^0-9a-f]")}


def _check_text(data: bytes, path: Path, format: str) -> bytes:
    """The digits of a ``dec`` or ``hex`` file, or a ValueError saying what is bad."""
    where = f"{str(path)!r} (format {format})"
    if not data:
        raise ValueError(f"{where} is empty; a {format} result ends with a newline")
    complete = data.endswith(b"\n")
    digits = data[:-1] if complete else data
    sign = 1 if digits.startswith(b"-") else 0
    bad = _NOT_DIGITS[format].search(digits, sign)
    if bad is not None:
        offset = bad.start()
        raise ValueError(
            f"{where} has {data[offset : offset + 1]!r} at byte {offset}, where a "
            f"{format} digit belongs"
        )
    if not complete:
        raise ValueError(
            f"{where} is truncated: it does not end with a newline, as every "
            f"{format} result written by write_result does"
        )
    if len(digits) == sign:
        raise ValueError(f"{where} has no digits")
    return digits


def read_result(path: str | os.PathLike[str], *, format: str = "dec") -> mpz:
    """Read back a value that :func:`write_result` wrote.

    Parameters
    ----------
    path : str or path-like
        The file.
    format : {"dec", "hex", "bin"}
        The format it was written in.

    Returns
    -------
    gmpy2.mpz
        The value.

    Raises
    ------
    ValueError
        If ``format`` is unknown, or a ``dec`` or ``hex`` file is empty,
        truncated (no final newline) or holds a character that is not a
        digit; the message names the path, the format and the byte offset.
    OSError
        If the file cannot be read.

    Examples
    --------
    >>> import compute, gmpy2, tempfile, os
    >>> folder = tempfile.TemporaryDirectory()
    >>> path = os.path.join(folder.name, "30.bin")
    >>> _ = compute.write_result(gmpy2.fac(30), path, format="bin")
    >>> compute.read_result(path, format="bin") == gmpy2.fac(30)
    True
    >>> folder.cleanup()
    """
    _check_format(format)
    path = Path(path)
    data = path.read_bytes()
    if format == "bin":
        return mpz.from_bytes(data, "big")
    return mpz(_check_text(data, path, format), 10 if format == "dec" else 16)

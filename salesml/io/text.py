"""Source files as text: decompression by magic bytes, strict encoding detection, line counts.

A text source may be stored compressed: gzip, zip (exactly one member), zstd, bzip2 or xz,
recognised by the first bytes of the file whatever its name, and decompressed as a stream
(:func:`open_binary`). Everything about the text (its encoding, its lines) is about the
decompressed bytes; :func:`file_hash` is the hash of the file as stored.

Encodings (:func:`scan_text`, :func:`detect_encoding`):

* ``auto``: a byte-order mark decides (``utf-8-sig``, ``utf-16``, ``utf-32``); without one the
  text must be strict UTF-8, or else GB18030 **when the text it gives is plausible**: its
  non-ASCII characters are mostly common Chinese characters (those of GB2312), CJK or general
  punctuation and full-width forms. GB18030 decodes almost any bytes, so a cp1252 "Müller"
  would read "M黮ler" (a rare character glued to Latin letters); such a file stops with a
  :class:`SourceFileError` that shows what GB18030 would give, ranks the likely encodings
  (charset-normalizer) and names the setting to use.
* a declared encoding (``cp1252``, ``latin-1``, ``gbk``, ``shift_jis``, ``utf-16``, ...) is
  checked strictly over the whole file; an error names the byte offset and the line.

Bytes are never replaced. Lines are physical lines as a text editor counts them: ended by
``\\n``, ``\\r\\n`` or a lone ``\\r``; a final line without a line end counts, a final line
end adds none.
"""

from __future__ import annotations

import bz2
import codecs
import contextlib
import gzip
import hashlib
import io
import lzma
import re
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import BinaryIO, TextIO

import charset_normalizer
import zstandard

from salesml.errors import SalesmlError

_CHUNK = 1 << 22

#: compression -> the bytes its files start with (bzip2: "BZh", the block size 1-9, then a
#: block or end-of-stream mark)
MAGIC = {
    "gzip": re.compile(rb"\x1f\x8b"),
    "zip": re.compile(rb"PK\x03\x04|PK\x05\x06"),
    "zstd": re.compile(rb"\x28\xb5\x2f\xfd"),
    "bzip2": re.compile(rb"BZh[1-9](?:1AY&SY|\x17rE8P\x90)"),
    "xz": re.compile(rb"\xfd7zXZ\x00"),
}

#: byte-order marks, longest first (a UTF-32-LE mark starts like a UTF-16-LE one)
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

#: ``auto`` accepts GB18030 when at least this share of the decoded non-ASCII characters
#: are common Chinese text (real GBK exports: ~99%; cp1252 or Shift-JIS read as GB18030: ~0%;
#: Big5 read as GB18030: about half)
GB18030_PLAUSIBLE_SHARE = 0.9

#: characters GB2312 encodes that Chinese business text rarely holds: a legacy file in
#: another encoding read as GB18030 lands on them (kana, Greek, Cyrillic, pinyin letters,
#: box drawing, bopomofo, the private use area)
_UNUSUAL_IN_CHINESE = (
    (0x0080, 0x02FF),
    (0x0370, 0x04FF),
    (0x2500, 0x257F),
    (0x3040, 0x312F),
    (0xE000, 0xF8FF),
)

#: legacy encodings named first when they are among the candidates (most common first)
_COMMON_LEGACY = (
    "cp1252", "shift_jis", "cp932", "big5", "cp950", "euc_kr", "cp949", "cp1251", "cp1250",
    "latin-1", "iso8859-15", "euc_jp", "cp1254", "cp1257",
)
_NOT_A_SUGGESTION = {"utf-8", "ascii", "gb18030", "gbk", "gb2312", "hz", "utf-16", "utf-32", "utf-7"}

#: what reading a damaged or cut-short compressed stream raises
READ_ERRORS = (OSError, EOFError, zlib.error, lzma.LZMAError, zstandard.ZstdError, zipfile.BadZipFile)


class SourceFileError(SalesmlError, ValueError):
    """A source file cannot be read; the message names the file and where."""


@dataclass(frozen=True)
class TextScan:
    """What reading a whole file once tells: how to decode it and how many lines it has."""

    encoding: str
    #: "" for a plain file, else a key of :data:`MAGIC`
    compression: str
    #: physical lines of the decompressed text
    lines: int


def file_hash(path: Path) -> str:
    """The sha256 of the file's bytes as stored (compressed files are not decompressed)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def compression_of(path: str | Path) -> str:
    """How the file is compressed, by its first bytes: "" (plain) or a key of :data:`MAGIC`."""
    with open(path, "rb") as f:
        head = f.read(10)
    return next((name for name, magic in MAGIC.items() if magic.match(head)), "")


def _zip_member(path: Path, z: zipfile.ZipFile) -> zipfile.ZipInfo:
    members = [i for i in z.infolist() if not i.is_dir() and not i.filename.startswith("__MACOSX/")]
    names = [i.filename for i in members]
    if "[Content_Types].xml" in names:
        raise SourceFileError(f"{path}: an Office document (zip of XML parts), not a compressed CSV file: for a workbook set format = \"excel\"")
    if len(members) != 1:
        shown = ", ".join(names[:10]) + (f", ... ({len(names)} files)" if len(names) > 10 else "")
        what = f"{len(members)} files: {shown}" if members else "no file"
        raise SourceFileError(f"{path}: a zip archive must hold exactly one file, this one holds {what}")
    if members[0].flag_bits & 0x1:
        raise SourceFileError(f"{path}: the file {names[0]} in the zip archive is password-protected")
    return members[0]


@contextlib.contextmanager
def open_binary(path: str | Path) -> Iterator[BinaryIO]:
    """The decompressed bytes of ``path`` as a stream (the file itself when not compressed)."""
    path = Path(path)
    kind = compression_of(path)
    with contextlib.ExitStack() as stack:
        try:
            if kind == "gzip":
                stream = stack.enter_context(gzip.open(path, "rb"))
            elif kind == "zip":
                z = stack.enter_context(zipfile.ZipFile(path))
                stream = stack.enter_context(z.open(_zip_member(path, z)))
            elif kind == "zstd":
                raw = stack.enter_context(open(path, "rb"))
                stream = stack.enter_context(zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True))
            elif kind == "bzip2":
                stream = stack.enter_context(bz2.open(path, "rb"))
            elif kind == "xz":
                stream = stack.enter_context(lzma.open(path, "rb"))
            else:
                stream = stack.enter_context(open(path, "rb"))
        except READ_ERRORS as e:
            raise damaged(path, kind, e) from None
        yield stream


def damaged(path: Path, compression: str, error: BaseException) -> SourceFileError:
    """The error for a stream that fails while being read (damaged or cut-short archive)."""
    if compression:
        return SourceFileError(f"{path}: the {compression} data is damaged or cut short: {error}")
    return SourceFileError(f"{path}: cannot read the file: {error}")


@contextlib.contextmanager
def open_text(path: str | Path, encoding: str) -> Iterator[TextIO]:
    """The decompressed text of ``path``, decoded strictly, line ends kept as written."""
    with open_binary(path) as raw:
        text = io.TextIOWrapper(raw, encoding=encoding, errors="strict", newline="")
        try:
            yield text
        finally:
            text.detach()


# --------------------------------------------------------------------------- line counting


class _LineCounter:
    """Counts physical lines of text fed in pieces (a ``\\r\\n`` may straddle two pieces)."""

    def __init__(self) -> None:
        self.ends = 0
        self.last = ""

    def feed(self, text: str | bytes) -> None:
        """Count the line ends of the next piece: text, or bytes of an encoding in which
        the bytes of ``\n`` and ``\r`` are never part of another character (UTF-8)."""
        if not text:
            return
        self.ends += line_ends(text)
        first, last = (text[:1] == b"\n", chr(text[-1])) if isinstance(text, bytes) else (text[0] == "\n", text[-1])
        if self.last == "\r" and first:
            self.ends -= 1
        self.last = last

    @property
    def lines(self) -> int:
        return self.ends + (1 if self.last not in ("", "\n", "\r") else 0)


def line_ends(text: str | bytes) -> int:
    """How many line ends ``text`` (or UTF-8 bytes) holds (``\\n``, ``\\r\\n`` and a lone
    ``\\r`` count one each)."""
    nl, cr, crlf = (b"\n", b"\r", b"\r\n") if isinstance(text, bytes) else ("\n", "\r", "\r\n")
    n_cr = text.count(cr)
    return text.count(nl) + (n_cr - text.count(crlf) if n_cr else 0)


# --------------------------------------------------------------------------- decoding


@dataclass(frozen=True)
class _Failure:
    encoding: str
    reason: str
    #: byte offset in the decompressed text
    offset: int
    line: int
    #: the bytes from the start of the failing line up to and including the bad byte(s)
    bad: bytes


@dataclass
class _Decoded:
    lines: int
    failure: _Failure | None = None


def _effective(encoding: str, head: bytes) -> str:
    """The codec that decodes a slice from the middle of the text (UTF-16/32 by the BOM's order)."""
    name = codecs.lookup(encoding).name
    if name in ("utf-16", "utf-32"):
        return name + ("-be" if head.startswith((codecs.BOM_UTF16_BE, codecs.BOM_UTF32_BE)) else "-le")
    return encoding


def _decode_whole(path: Path, encoding: str, head: bytes, on_text=None) -> _Decoded:
    """Decode the decompressed file strictly, counting lines; stop at the first bad byte."""
    dec = codecs.getincrementaldecoder(encoding)("strict")
    by_bytes = codecs.lookup(encoding).name in ("utf-8", "utf-8-sig")
    counter = _LineCounter()
    fed = 0
    with open_binary(path) as f:
        kind = compression_of(path)
        while True:
            try:
                chunk = f.read(_CHUNK)
            except READ_ERRORS as e:
                raise damaged(path, kind, e) from None
            final = not chunk
            buffered = len(dec.getstate()[0])
            if chunk and by_bytes and on_text is None and not buffered and chunk.isascii():
                counter.feed(chunk)  # ASCII is valid UTF-8: nothing to decode
                fed += len(chunk)
                continue
            try:
                text = dec.decode(chunk, final)
            except UnicodeDecodeError as e:
                before = e.object[: e.start]
                line_start = max(before.rfind(b"\n"), before.rfind(b"\r")) + 1
                prefix = before.decode(_effective(encoding, head), errors="replace")
                counter.feed(prefix)
                line = counter.ends + 1
                return _Decoded(
                    lines=counter.lines,
                    failure=_Failure(encoding, e.reason, fed - buffered + e.start, line, bytes(e.object[line_start : e.end])),
                )
            if on_text is not None:
                on_text(text, counter)
            counter.feed(chunk if by_bytes else text)  # UTF-8: counted on the bytes, 3x faster
            if final:
                return _Decoded(lines=counter.lines)
            fed += len(chunk)


def _head(path: Path) -> bytes:
    with open_binary(path) as f:
        try:
            return f.read(4)
        except READ_ERRORS as e:
            raise damaged(path, compression_of(path), e) from None


def _check_file(path: Path) -> None:
    if not path.is_file():
        raise SourceFileError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise SourceFileError(f"{path}: the file is empty")


def _lookup(path: Path, encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise SourceFileError(f"{path}: unknown encoding {encoding!r} (e.g. \"utf-8\", \"cp1252\", \"gbk\", \"shift_jis\")") from None


def _failure_text(f: _Failure) -> str:
    return f"{f.encoding} fails at byte offset {f.offset} (line {f.line}: {f.reason})"


def scan_text(path: str | Path, declared: str = "auto") -> TextScan:
    """Decode the whole (decompressed) file once: the encoding to read it with and its line count.

    Raises :class:`SourceFileError` for a missing or empty file, a damaged archive, an
    unknown encoding, or text that does not decode (see the module docstring). Within
    :func:`shared_scans`, an unchanged file is decoded once.
    """
    path = Path(path)
    _check_file(path)
    cache = _SCANS.get()
    if cache is None:
        return _scan(path, declared)
    st = path.stat()
    key = (path.resolve(), st.st_size, st.st_mtime_ns, declared)
    if key not in cache:
        cache[key] = _scan(path, declared)
    return cache[key]


#: the scans of one run (see :func:`shared_scans`), by resolved path, size, mtime and declared
#: encoding; None outside a run
_SCANS: ContextVar[dict[tuple, TextScan] | None] = ContextVar("salesml_text_scans", default=None)


@contextlib.contextmanager
def shared_scans() -> Iterator[None]:
    """Within the block, a file scanned once is not decoded again while it is unchanged: an
    import reads a file's header (to check every mapping first) and then its rows."""
    token = _SCANS.set({})
    try:
        yield
    finally:
        _SCANS.reset(token)


def _scan(path: Path, declared: str) -> TextScan:
    compression = compression_of(path)
    head = _head(path)
    if not head:
        raise SourceFileError(f"{path}: the file is empty (its {compression} data holds no bytes)")
    if declared != "auto":
        name = _lookup(path, declared)
        encoding = "utf-8-sig" if name == "utf-8" and head.startswith(codecs.BOM_UTF8) else declared
        result = _decode_whole(path, encoding, head)
        if result.failure is not None:
            raise SourceFileError(f"{path}: cannot decode the file as declared: {_failure_text(result.failure)}, bytes {_show_bytes(result.failure.bad)}")
        return TextScan(encoding, compression, result.lines)
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            result = _decode_whole(path, encoding, head)
            if result.failure is not None:
                raise SourceFileError(f"{path}: the file starts with a {encoding} byte-order mark but does not decode: {_failure_text(result.failure)}")
            return TextScan(encoding, compression, result.lines)
    utf8 = _decode_whole(path, "utf-8", head)
    if utf8.failure is None:
        return TextScan("utf-8", compression, utf8.lines)
    plausibility = _Plausibility()
    gb = _decode_whole(path, "gb18030", head, on_text=plausibility.feed)
    if gb.failure is None and plausibility.plausible:
        return TextScan("gb18030", compression, gb.lines)
    raise SourceFileError(_undecodable_message(path, utf8.failure, gb.failure, plausibility))


def detect_encoding(path: str | Path, declared: str = "auto") -> str:
    """The encoding to read ``path`` with (see :func:`scan_text`)."""
    return scan_text(path, declared).encoding


# --------------------------------------------------------------------------- plausibility


@cache
def common_in_chinese(ch: str) -> bool:
    """Whether a non-ASCII character is usual in Chinese text: in GB2312 (the common 6,763
    characters, CJK and general punctuation, full-width forms) and not kana, Greek, Cyrillic,
    pinyin letters, box drawing or private use."""
    code = ord(ch)
    if any(lo <= code <= hi for lo, hi in _UNUSUAL_IN_CHINESE):
        return False
    try:
        ch.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


class _Plausibility:
    """Tallies the non-ASCII characters of text decoded as GB18030; keeps the first odd line."""

    def __init__(self) -> None:
        self.total = 0
        self.common = 0
        self.example: tuple[int, str] | None = None

    def feed(self, text: str, counter: _LineCounter) -> None:
        chars = Counter("".join(_NON_ASCII.findall(text)))
        for ch, n in chars.items():
            self.total += n
            if common_in_chinese(ch):
                self.common += n
        if self.example is None and any(not common_in_chinese(ch) for ch in chars):
            pos = next(i for i, ch in enumerate(text) if ord(ch) > 0x7F and not common_in_chinese(ch))
            start = max(text.rfind("\n", 0, pos), text.rfind("\r", 0, pos)) + 1
            end = min((i for i in (text.find("\n", pos), text.find("\r", pos)) if i >= 0), default=len(text))
            line = counter.ends + 1 + line_ends(text[:start]) - (1 if counter.last == "\r" and text[:1] == "\n" else 0)
            self.example = (line, text[start:end])

    @property
    def plausible(self) -> bool:
        return self.total > 0 and self.common >= GB18030_PLAUSIBLE_SHARE * self.total


# --------------------------------------------------------------------------- the message


def _show_bytes(b: bytes, limit: int = 12) -> str:
    return " ".join(f"{x:02X}" for x in b[-limit:])


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _sample(path: Path, offset: int, before: int = 2048, after: int = 1 << 16) -> bytes:
    """Decompressed bytes around ``offset``, from a line start to a line end."""
    start = max(0, offset - before)
    with open_binary(path) as f:
        skipped = 0
        while skipped < start:
            got = f.read(min(_CHUNK, start - skipped))
            if not got:
                break
            skipped += len(got)
        data = f.read(before + after)
    if len(data) == before + after:  # the text goes on: end at a line end, not inside a character
        cut = data.rfind(b"\n")
        data = data[: cut + 1] if cut > offset - start else data
    if start:
        cut = data.find(b"\n")
        data = data[cut + 1 :] if 0 <= cut < offset - start else data
    return data


def _display_name(encoding: str) -> str:
    name = codecs.lookup(encoding).name
    return "latin-1" if name == "iso8859-1" else name


def likely_encodings(sample: bytes, limit: int = 4) -> list[str]:
    """Encodings that decode ``sample`` strictly, best guesses first: charset-normalizer's
    candidates, the common legacy encodings among them named first (cp1252 and latin-1
    when it has none)."""
    found: list[str] = []
    for match in charset_normalizer.from_bytes(sample):
        for name in (match.encoding, *match.could_be_from_charset):
            try:
                shown = _display_name(name)
            except LookupError:
                continue
            if shown not in found and shown not in _NOT_A_SUGGESTION:
                found.append(shown)
    if not found:
        found = ["cp1252", "latin-1"]
    rank = {name: i for i, name in enumerate(_COMMON_LEGACY)}
    decodes = []
    for name in sorted(found, key=lambda n: (rank.get(n, len(rank)), found.index(n))):
        try:
            sample.decode(name)
        except UnicodeDecodeError:
            continue
        decodes.append(name)
    return decodes[:limit]


def _undecodable_message(path: Path, utf8: _Failure, gb: _Failure | None, plaus: _Plausibility) -> str:
    if gb is not None:
        shown = gb.bad.decode("gb18030", errors="replace")
        gb_text = f"{_failure_text(gb)}, reading {_short(shown)!r}"
    else:
        line, text = plaus.example or (0, "")
        share = plaus.common / plaus.total if plaus.total else 0.0
        gb_text = (
            f"gb18030 decodes it but the text is not plausible Chinese (only {share:.0%} of its "
            f"non-ASCII characters are common Chinese characters): line {line} would read {_short(text)!r}"
        )
    candidates = likely_encodings(_sample(path, utf8.offset))
    if candidates:
        likely = f"Likely encodings: {', '.join(candidates)}. Set the source's encoding in salesml.toml, e.g. encoding = \"{candidates[0]}\" under [sources.<name>]"
    else:
        likely = "Set the source's encoding in salesml.toml, e.g. encoding = \"cp1252\" under [sources.<name>]"
    if gb is None:
        likely += " (or encoding = \"gb18030\" if that line reads right)"
    return f"{path}: cannot decode the file as UTF-8 or GB18030: {_failure_text(utf8)}, bytes {_show_bytes(utf8.bad)}; {gb_text}. {likely}."

"""Source files as text: decompression by magic bytes, strict and plausible encodings, line counts."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import zipfile

import pytest
import zstandard

import salesml.io.text as text_module
from salesml.io import SourceFileError, read_csv, read_header
from salesml.io.text import common_in_chinese, compression_of, detect_encoding, line_ends, scan_text

ROWS = "id,name,amount\n007,华东贸易,12.50\nNA,Müller,\n"
EXPECTED = {"id": ["007", "NA"], "name": ["华东贸易", "Müller"], "amount": ["12.50", ""]}


def frame_dict(raw):
    return raw.frame.drop(columns="source_row").to_dict("list")


# --------------------------------------------------------------------------- compression


def _zip(data: bytes, *names: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name in names or ("orders.csv",):
            z.writestr(name, data)
    return buf.getvalue()


COMPRESSORS = {
    "gzip": gzip.compress,
    "zip": _zip,
    "zstd": lambda b: zstandard.ZstdCompressor().compress(b),
    "bzip2": bz2.compress,
    "xz": lzma.compress,
}


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_compressed_files_are_recognised_by_their_first_bytes_and_read_as_text(tmp_path, kind):
    stored = COMPRESSORS[kind](ROWS.encode("utf-8"))
    # the name says nothing: the first bytes decide
    f = tmp_path / "orders.csv"
    f.write_bytes(stored)
    assert compression_of(f) == kind
    raw = read_csv(f)
    assert frame_dict(raw) == EXPECTED
    assert raw.frame["source_row"].tolist() == [2, 3]
    assert (raw.compression, raw.encoding, raw.lines) == (kind, "utf-8", 3)
    # the hash is of the bytes as stored, not of the text inside
    assert raw.content_hash == hashlib.sha256(stored).hexdigest()
    assert read_header(f) == ["id", "name", "amount"]


def test_a_plain_file_named_gz_is_read_as_plain_text(tmp_path):
    f = tmp_path / "orders.csv.gz"
    f.write_text(ROWS, encoding="utf-8")
    assert compression_of(f) == ""
    assert frame_dict(read_csv(f)) == EXPECTED


def test_compressed_text_in_a_legacy_encoding_is_decoded_after_decompression(tmp_path):
    f = tmp_path / "orders.csv.zst"
    f.write_bytes(zstandard.ZstdCompressor().compress("id,name\n1,张伟\n2,王芳\n".encode("gbk")))
    raw = read_csv(f)
    assert raw.encoding == "gb18030"
    assert raw.frame["name"].tolist() == ["张伟", "王芳"]


def test_a_zip_must_hold_exactly_one_file(tmp_path):
    many = tmp_path / "many.zip"
    many.write_bytes(_zip(ROWS.encode(), "jan.csv", "feb.csv"))
    with pytest.raises(SourceFileError, match=r"many.zip: a zip archive must hold exactly one file, this one holds 2 files: jan.csv, feb.csv"):
        read_csv(many)
    none = tmp_path / "none.zip"
    with zipfile.ZipFile(none, "w"):
        pass
    with pytest.raises(SourceFileError, match="none.zip: a zip archive must hold exactly one file, this one holds no file"):
        read_csv(none)
    # macOS adds resource forks under __MACOSX/: not a second file
    mac = tmp_path / "mac.zip"
    with zipfile.ZipFile(mac, "w") as z:
        z.writestr("orders.csv", ROWS)
        z.writestr("__MACOSX/._orders.csv", b"\x00\x05\x16\x07")
    assert frame_dict(read_csv(mac)) == EXPECTED


def test_an_office_workbook_is_not_taken_for_a_zipped_csv(tmp_path):
    f = tmp_path / "book.xlsx"
    with zipfile.ZipFile(f, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(SourceFileError, match='book.xlsx: an Office document.*format = "excel"'):
        read_csv(f)


def test_damaged_or_empty_compressed_data_says_so(tmp_path):
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(gzip.compress(ROWS.encode() * 50)[:-20])
    with pytest.raises(SourceFileError, match="cut.csv.gz: the gzip data is damaged or cut short"):
        read_csv(cut)
    empty = tmp_path / "empty.csv.gz"
    empty.write_bytes(gzip.compress(b""))
    with pytest.raises(SourceFileError, match="empty.csv.gz: the file is empty"):
        read_csv(empty)


# --------------------------------------------------------------------------- encodings


def test_utf8_with_and_without_a_byte_order_mark(tmp_path):
    plain, bom = tmp_path / "plain.csv", tmp_path / "bom.csv"
    plain.write_bytes(ROWS.encode("utf-8"))
    bom.write_bytes(b"\xef\xbb\xbf" + ROWS.encode("utf-8"))
    assert detect_encoding(plain) == "utf-8"
    assert detect_encoding(bom) == "utf-8-sig"
    for f in (plain, bom):
        raw = read_csv(f)
        assert list(raw.frame.columns) == ["source_row", "id", "name", "amount"]
        assert frame_dict(raw) == EXPECTED
    # a declared utf-8 does not leave the mark in the first column's name
    assert read_header(bom, "utf-8") == ["id", "name", "amount"]
    assert frame_dict(read_csv(bom, encoding="utf-8")) == EXPECTED


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_with_a_byte_order_mark(tmp_path, codec):
    f = tmp_path / "u.csv"
    data = ROWS.encode(codec)
    if codec == "utf-16-be":
        data = b"\xfe\xff" + data
    f.write_bytes(data)
    raw = read_csv(f)
    assert raw.encoding == ("utf-32" if codec == "utf-32" else "utf-16")
    assert frame_dict(raw) == EXPECTED
    assert raw.lines == 3


CP1252 = "id,name,amount\n1,Müller,5 €\n2,Señor López,7\n3,Café,9\n"


def test_cp1252_under_auto_stops_and_names_the_likely_encodings(tmp_path):
    f = tmp_path / "west.csv"
    data = CP1252.encode("cp1252")
    f.write_bytes(data)
    with pytest.raises(SourceFileError) as err:
        read_csv(f)
    msg = str(err.value)
    bad = data.index(b"\xfc")
    assert msg.startswith(f"{f}: cannot decode the file as UTF-8 or GB18030: utf-8 fails at byte offset {bad} (line 2")
    # what GB18030 would give: the line up to the byte it cannot decode (the euro sign)
    line2 = data.split(b"\n")[1]
    assert repr(line2[: line2.index(b"\x80") + 1].decode("gb18030", errors="replace")) in msg
    assert "'1,M黮ler,5 �'" in msg
    likely = msg.split("Likely encodings: ")[1].split(".")[0].split(", ")
    assert "cp1252" in likely
    assert f'encoding = "{likely[0]}"' in msg and "salesml.toml" in msg


def test_cp1252_under_auto_stops_even_when_gb18030_decodes_every_byte(tmp_path):
    f = tmp_path / "west.csv"
    data = "id,name\n1,Müller\n2,Señora\n".encode("cp1252")
    f.write_bytes(data)
    shown = data.split(b"\n")[1].decode("gb18030")  # "1,M黮ler": a rare character glued to Latin letters
    with pytest.raises(SourceFileError, match=f"gb18030 decodes it but the text is not plausible Chinese.*line 2 would read '{shown}'.*cp1252"):
        read_csv(f)


def test_declared_cp1252_reads_right(tmp_path):
    f = tmp_path / "west.csv"
    f.write_bytes(CP1252.encode("cp1252"))
    raw = read_csv(f, encoding="cp1252")
    assert raw.encoding == "cp1252"
    assert raw.frame["name"].tolist() == ["Müller", "Señor López", "Café"]
    assert raw.frame["amount"].tolist() == ["5 €", "7", "9"]


GBK = "编号,客户,城市\n1,张伟,北京\n2,王芳,上海市\n3,李娜,广州（天河）\n"


def test_gbk_chinese_under_auto_reads_as_gb18030_and_as_declared_gbk(tmp_path):
    f = tmp_path / "cn.csv"
    f.write_bytes(GBK.encode("gbk"))
    auto = read_csv(f)
    assert auto.encoding == "gb18030"
    declared = read_csv(f, encoding="gbk")
    assert declared.encoding == "gbk"
    for raw in (auto, declared):
        assert list(raw.frame.columns) == ["source_row", "编号", "客户", "城市"]
        assert raw.frame["客户"].tolist() == ["张伟", "王芳", "李娜"]
        assert raw.frame["城市"].tolist() == ["北京", "上海市", "广州（天河）"]


SJIS = "id,name,city\n1,山田太郎,東京\n2,佐藤花子,大阪\n3,鈴木一郎,名古屋\n"


def test_shift_jis_under_auto_stops_naming_shift_jis_and_reads_when_declared(tmp_path):
    f = tmp_path / "jp.csv"
    f.write_bytes(SJIS.encode("shift_jis"))
    with pytest.raises(SourceFileError, match=r"jp.csv: cannot decode.*Likely encodings: [^.]*shift_jis"):
        read_csv(f)
    raw = read_csv(f, encoding="shift_jis")
    assert raw.frame["name"].tolist() == ["山田太郎", "佐藤花子", "鈴木一郎"]
    assert raw.frame["city"].tolist() == ["東京", "大阪", "名古屋"]


def test_big5_is_not_taken_for_gb18030(tmp_path):
    f = tmp_path / "tw.csv"
    f.write_bytes("id,name,city\n1,陳大文,臺北\n2,林小明,高雄\n".encode("big5"))
    with pytest.raises(SourceFileError, match="Likely encodings: [^.]*big5"):
        read_csv(f)
    assert read_csv(f, encoding="big5").frame["city"].tolist() == ["臺北", "高雄"]


def test_a_declared_encoding_is_checked_strictly_naming_offset_and_line(tmp_path):
    f = tmp_path / "bad.csv"
    data = b"id,name\n1,ok\n2,ok\n3,\x81x\n"  # 0x81 is no character in cp1252
    f.write_bytes(data)
    offset = data.index(b"\x81")
    with pytest.raises(SourceFileError, match=rf"bad.csv: cannot decode the file as declared: cp1252 fails at byte offset {offset} \(line 4: "):
        read_csv(f, encoding="cp1252")
    with pytest.raises(SourceFileError, match="bad.csv: unknown encoding 'klingon'"):
        read_csv(f, encoding="klingon")


def test_the_failing_line_is_counted_across_decoding_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(text_module, "_CHUNK", 7)  # many small pieces, a \r\n split between two
    f = tmp_path / "bad.csv"
    data = b"id,name\r\n1,aaaa\r\n2,bb\r\n3,\xff\r\n"
    f.write_bytes(data)
    offset = data.index(b"\xff")
    with pytest.raises(SourceFileError, match=rf"utf-8 fails at byte offset {offset} \(line 4: "):
        scan_text(f, "utf-8")


# --------------------------------------------------------------------------- lines and plausibility


@pytest.mark.parametrize(
    ("text", "lines"),
    [("a\n", 1), ("a", 1), ("a\nb", 2), ("a\r\nb\r\n", 2), ("a\rb\rc", 3), ("\n\n", 2), ("a\n\n\nb\n", 4), ("a\r\n\r\n", 2)],
)
def test_physical_lines_count_like_a_text_editor(tmp_path, text, lines, monkeypatch):
    f = tmp_path / "x.txt"
    f.write_bytes(text.encode())
    assert scan_text(f).lines == lines
    monkeypatch.setattr(text_module, "_CHUNK", 1)  # every \r\n split between two pieces
    assert scan_text(f).lines == lines


def test_line_ends_counts_each_kind_once():
    assert line_ends("a\r\nb\nc\rd") == 3
    assert line_ends("") == 0


def test_common_chinese_characters_are_told_from_what_other_encodings_give():
    assert all(common_in_chinese(c) for c in "张伟北京，。（）")
    assert not any(common_in_chinese(c) for c in "黮嶳揷ゅé")


def test_lines_are_counted_on_utf8_bytes_like_on_text(tmp_path, monkeypatch):
    text = "a,b\r\nMüller,1\r\r\n华东\rx\n\ny"
    f = tmp_path / "mixed.csv"
    f.write_bytes(text.encode("utf-8"))
    expected = line_ends(text) + 1  # the last line has no line end
    for size in (1, 2, 3, 5, 1 << 22):  # \r\n and multi-byte characters split between pieces
        monkeypatch.setattr(text_module, "_CHUNK", size)
        assert scan_text(f).lines == expected
        assert scan_text(f, "utf-8").lines == expected


def test_a_file_is_decoded_once_within_shared_scans_and_again_when_it_changes(tmp_path, monkeypatch):
    f = tmp_path / "orders.csv"
    f.write_text("id\n1\n2\n", encoding="utf-8")
    calls = []
    decode = text_module._decode_whole
    monkeypatch.setattr(text_module, "_decode_whole", lambda *a, **k: calls.append(a[0]) or decode(*a, **k))
    scan_text(f)
    scan_text(f)
    assert len(calls) == 2  # outside a run nothing is kept
    with text_module.shared_scans():
        assert read_header(f) == ["id"]
        assert read_csv(f).lines == 3
        assert len(calls) == 3  # the header and the rows share one scan
        f.write_text("id\n1\n2\n3\n4\n", encoding="utf-8")  # another size: scanned again
        assert read_csv(f).lines == 5
        assert len(calls) == 4
    assert text_module._SCANS.get() is None

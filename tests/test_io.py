"""Reading CSV exports: strict encodings, text values, clear errors naming the file."""

from __future__ import annotations

import pytest

from salesml.io import SourceFileError, detect_encoding, read_csv, read_header

ROWS = "id,name\n007,华东贸易\nNA,NULL\n"


@pytest.mark.parametrize(
    ("encoding", "prefix", "expected"),
    [("utf-8", b"", "utf-8"), ("utf-8", b"\xef\xbb\xbf", "utf-8-sig"), ("gbk", b"", "gb18030")],
)
def test_encodings_are_detected_strictly(tmp_path, encoding, prefix, expected):
    f = tmp_path / "x.csv"
    f.write_bytes(prefix + ROWS.encode(encoding))
    raw = read_csv(f)
    assert raw.encoding == expected
    assert raw.frame["id"].tolist() == ["007", "NA"]
    assert raw.frame["name"].tolist() == ["华东贸易", "NULL"]
    assert raw.frame["source_row"].tolist() == [2, 3]
    assert read_header(f) == ["id", "name"]


def test_declared_encoding_is_checked_and_bad_bytes_are_named_with_their_offset(tmp_path):
    f = tmp_path / "bad.csv"
    f.write_bytes(b"id,name\n1,ok\n2,\x80\xff\n")
    with pytest.raises(SourceFileError, match=r"bad.csv: cannot decode.*utf-8 fails at byte offset 15.*gb18030 fails at byte offset 15"):
        detect_encoding(f)
    g = tmp_path / "gbk.csv"
    g.write_bytes(ROWS.encode("gbk"))
    with pytest.raises(SourceFileError, match="utf-8 fails at byte offset"):
        read_csv(g, encoding="utf-8")


def test_empty_and_header_only_files_say_so(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(SourceFileError, match="empty.csv: the file is empty"):
        read_csv(empty)
    header = tmp_path / "header.csv"
    header.write_text("a,b\n", encoding="utf-8")
    with pytest.raises(SourceFileError, match="header.csv: the file has a header but no data rows"):
        read_csv(header)
    with pytest.raises(SourceFileError, match="missing.csv: file not found"):
        read_csv(tmp_path / "missing.csv")


def test_content_hash_tracks_content(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text(ROWS, encoding="utf-8")
    b.write_text(ROWS, encoding="utf-8")
    assert read_csv(a).content_hash == read_csv(b).content_hash
    b.write_text(ROWS + "9,x\n", encoding="utf-8")
    assert read_csv(a).content_hash != read_csv(b).content_hash

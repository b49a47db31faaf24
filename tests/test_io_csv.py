"""Reading delimited text: values as text, physical line numbers, rejects, line accounting, chunks."""

from __future__ import annotations

import csv
import gzip

import pandas as pd
import pytest

from salesml.io import REJECT_COLUMNS, RawTable, SourceFileError, iter_csv, read_csv, read_header
from salesml.io.common import TEXT


def write(path, text: str, encoding: str = "utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def records(raw: RawTable) -> list[list]:
    return raw.frame.values.tolist()


def rejects(raw: RawTable) -> list[tuple]:
    return [tuple(r) for r in raw.rejects.itertuples(index=False)]


# --------------------------------------------------------------------------- values and names


def test_values_stay_text_as_written_and_names_are_trimmed(tmp_path):
    f = write(tmp_path / "x.csv", " id , name ,qty\n007,NA,\n1,NULL, 5 \n")
    raw = read_csv(f)
    assert list(raw.frame.columns) == ["source_row", "id", "name", "qty"]
    assert records(raw) == [[2, "007", "NA", ""], [3, "1", "NULL", " 5 "]]
    assert raw.frame["source_row"].dtype == "int64"
    assert all(raw.frame[c].dtype == TEXT for c in ("id", "name", "qty"))  # Arrow-backed text
    assert list(raw.rejects.columns) == list(REJECT_COLUMNS) and raw.rejects.empty


def test_empty_and_repeated_header_names_are_told_apart(tmp_path):
    f = write(tmp_path / "x.csv", "a,,a,b\n1,2,3,4\n")
    assert read_header(f) == ["a", "Unnamed: 1", "a.1", "b"]
    assert list(read_csv(f).frame.columns) == ["source_row", "a", "Unnamed: 1", "a.1", "b"]


def test_a_header_naming_source_row_is_refused(tmp_path):
    f = write(tmp_path / "x.csv", "id,source_row\n1,2\n")
    with pytest.raises(SourceFileError, match="x.csv: the header \\(line 1\\) names a column 'source_row'"):
        read_csv(f)


def test_missing_empty_blank_and_header_only_files_say_so(tmp_path):
    with pytest.raises(SourceFileError, match="missing.csv: file not found"):
        read_csv(tmp_path / "missing.csv")
    with pytest.raises(SourceFileError, match="empty.csv: the file is empty"):
        read_csv(write(tmp_path / "empty.csv", ""))
    with pytest.raises(SourceFileError, match="blank.csv: the file has no header and no rows"):
        read_csv(write(tmp_path / "blank.csv", "\n  \n\n"))
    with pytest.raises(SourceFileError, match="header.csv: the file has a header but no data rows"):
        read_csv(write(tmp_path / "header.csv", "a,b\n\n"))
    with pytest.raises(SourceFileError, match="blank.csv: the file has no rows"):
        read_csv(tmp_path / "blank.csv", header=False)


# --------------------------------------------------------------------------- line numbers


def test_source_row_is_the_physical_line_where_the_record_starts(tmp_path):
    lines = [
        "id,note,amount",  # 1
        "",  # 2 blank
        "A1,plain,1.00",  # 3
        'A2,"two',  # 4  a quoted line break
        'lines",2.00',  # 5
        "   ",  # 6 whitespace only: blank
        'A3,"say ""hi""",3.00',  # 7
        'A4,"a,b\r\nc\r\nd",4.00',  # 8-10 (CRLF inside the quotes)
        "A5,last,5.00",  # 11
    ]
    f = write(tmp_path / "x.csv", "\n".join(lines) + "\n")
    raw = read_csv(f)
    assert raw.frame["id"].tolist() == ["A1", "A2", "A3", "A4", "A5"]
    assert raw.frame["source_row"].tolist() == [3, 4, 7, 8, 11]
    assert raw.frame["note"].tolist() == ["plain", "two\nlines", 'say "hi"', "a,b\r\nc\r\nd", "last"]
    assert raw.line_spans == {1: 2, 3: 3}
    # lines = header + lines of records + lines of rejects + blank lines
    assert (raw.lines, raw.header_lines, raw.record_lines, raw.reject_lines, raw.blank_lines) == (11, 1, 8, 0, 2)
    assert raw.unaccounted_lines == 0


def test_crlf_and_old_mac_line_ends_number_lines_alike(tmp_path):
    for name, end in (("crlf.csv", "\r\n"), ("cr.csv", "\r")):
        f = write(tmp_path / name, end.join(["a,b", "1,x", "", "2,y"]))  # no final line end
        raw = read_csv(f)
        assert records(raw) == [[2, "1", "x"], [4, "2", "y"]], name
        assert (raw.lines, raw.blank_lines, raw.unaccounted_lines) == (4, 1, 0)


def test_a_quote_opened_and_closed_lines_later_makes_one_record_the_caller_can_find(tmp_path):
    # 20 data lines; line 6 opens a quote that line 9 closes: 17 records, one spanning 4 lines
    body = [f"{i},C{i},{i}.00" for i in range(1, 21)]
    body[4] = '5,"C5,5.00'
    body[7] = '8,C8",8.00'
    f = write(tmp_path / "x.csv", "id,customer,amount\n" + "\n".join(body) + "\n")
    raw = read_csv(f)
    assert len(raw.frame) == 17
    swallowed = raw.frame.index[raw.frame["id"] == "5"][0]
    assert raw.line_spans == {swallowed: 4}
    assert raw.frame.loc[swallowed, "customer"] == "C5,5.00\n6,C6,6.00\n7,C7,7.00\n8,C8"
    assert raw.frame.loc[swallowed, "source_row"] == 6
    assert raw.lines == 21 and raw.unaccounted_lines == 0


# --------------------------------------------------------------------------- malformed lines


def test_lines_with_the_wrong_number_of_fields_are_rejected_and_the_rest_loads(tmp_path):
    text = "id,name,qty\n1,a,1\n2,b\n3,c,3,x\n4,d,4,\n5,e,5\n"
    f = write(tmp_path / "x.csv", text)
    raw = read_csv(f, max_bad_line_share=0.5)
    # a trailing delimiter (an empty extra field) loses nothing: the row loads
    assert records(raw) == [[2, "1", "a", "1"], [5, "4", "d", "4"], [6, "5", "e", "5"]]
    assert rejects(raw) == [
        (3, 3, "2 fields where the header has 3", "2,b"),
        (4, 4, "4 fields where the header has 3", "3,c,3,x"),
    ]
    assert (raw.lines, raw.reject_lines, raw.unaccounted_lines) == (6, 2, 0)


def test_a_quote_left_open_at_the_end_is_a_reject_holding_the_lines_it_swallowed(tmp_path):
    rows = [f"{i},n{i},{i}" for i in range(1, 40)]
    text = "id,name,qty\n" + "\n".join(rows) + '\n40,"open,40\n41,n41,41\n'
    f = write(tmp_path / "x.csv", text)
    raw = read_csv(f)  # 2 of 41 data lines: within the default share
    assert raw.frame["id"].tolist() == [str(i) for i in range(1, 40)]
    assert rejects(raw) == [(41, 42, "a quote opened on line 41 is never closed: the lines to the end of the file are one field", '40,"open,40\n41,n41,41')]
    assert raw.unaccounted_lines == 0


def test_a_quote_left_open_on_the_header_line_stops_the_read(tmp_path):
    f = write(tmp_path / "x.csv", 'id,"name\n1,a\n')
    with pytest.raises(SourceFileError, match="x.csv: the first line \\(1\\) opens a quote that is never closed"):
        read_csv(f)
    with pytest.raises(SourceFileError, match="opens a quote that is never closed"):
        read_header(f)


def test_a_field_too_long_for_the_parser_is_a_reject(tmp_path):
    huge = "x" * (csv.field_size_limit() + 10)
    f = write(tmp_path / "x.csv", f'id,note\n1,a\n2,"{huge}"\n3,c\n')
    # read whole, the common case goes through DuckDB's reader, which takes the long field
    whole = read_csv(f)
    assert whole.frame["id"].tolist() == ["1", "2", "3"] and whole.frame["note"][1] == huge
    # record by record (chunks), Python's parser has a limit: the record is a reject
    (raw,) = iter_csv(f, max_bad_line_share=0.5, chunk_rows=None)
    assert raw.frame["id"].tolist() == ["1", "3"]
    ((first, last, reason, text),) = rejects(raw)
    assert (first, last) == (3, 3) and reason.startswith("cannot be read as CSV: field larger than field limit")
    assert text == f'2,"{huge}"'


def test_too_many_malformed_lines_stop_the_read_naming_count_lines_and_cause(tmp_path):
    # a ";" file with decimal commas read as ","
    text = "id;name;amount\n" + "".join(f"{i};n{i};{i},50\n" for i in range(1, 21))
    f = write(tmp_path / "semi.csv", text)
    with pytest.raises(SourceFileError) as err:
        read_csv(f)
    msg = str(err.value)
    assert msg.startswith(f"{f}: ")
    assert "max_bad_line_share = 0.05" in msg
    assert "line 2 (2 fields where the header has 1): '1;n1;1,50'" in msg
    assert "line 3 (2 fields where the header has 1): '2;n2;2,50'" in msg
    assert 'set delimiter = ";"' in msg
    # read as written, it loads
    assert read_csv(f, delimiter=";").frame["amount"].tolist() == [f"{i},50" for i in range(1, 21)]


def test_the_share_counts_the_data_lines_of_the_whole_file(tmp_path):
    good = [f"{i},n{i},{i}" for i in range(1, 91)]
    bad = [f"{i},n{i}" for i in range(91, 101)]  # 10 of 100 data lines; 20 blank lines do not count
    f = write(tmp_path / "x.csv", "id,name,qty\n" + "\n" * 20 + "\n".join(good + bad) + "\n")
    with pytest.raises(SourceFileError, match=r"x.csv: 10 malformed records on 10 of the file's 100 data lines \(10.0%\), more than max_bad_line_share = 0.09 "):
        read_csv(f, max_bad_line_share=0.09)
    raw = read_csv(f, max_bad_line_share=0.1)
    assert len(raw.frame) == 90 and len(raw.rejects) == 10


def test_the_read_stops_as_soon_as_the_share_is_certain(tmp_path):
    good = [f"{i},n{i},{i}" for i in range(1, 91)]
    bad = [f"{i},n{i}" for i in range(91, 111)]  # 20 of 110 data lines: the 10th is already too many
    f = write(tmp_path / "x.csv", "id,name,qty\n" + "\n".join(good + bad) + "\n")
    with pytest.raises(SourceFileError, match=r"x.csv: 10 malformed records \(10 lines\) by line 101, already 9.1% of the file's 110 data lines, more than max_bad_line_share = 0.09 "):
        read_csv(f, max_bad_line_share=0.09)


def test_a_file_without_header_read_as_one_hints_at_header_false(tmp_path):
    text = "1,2024-01-05,10\n" + "".join(f"{i},2024-01-0{i},{i},x\n" for i in range(2, 9))
    f = write(tmp_path / "x.csv", text)
    with pytest.raises(SourceFileError, match="the first line looks like data, not a header: set header = false"):
        read_csv(f)


def test_max_bad_line_share_and_chunk_rows_are_checked(tmp_path):
    f = write(tmp_path / "x.csv", "a\n1\n")
    with pytest.raises(SourceFileError, match="max_bad_line_share must be a share between 0 and 1"):
        read_csv(f, max_bad_line_share=5)
    with pytest.raises(SourceFileError, match="chunk_rows must be at least 1"):
        iter_csv(f, chunk_rows=0)


# --------------------------------------------------------------------------- delimiters and headers


def test_whitespace_separated_files_without_header(tmp_path):
    # like the CDNOW export: leading spaces, runs of spaces, CRLF, no header
    text = " 00004 0001 19970101  2   29.33\r\n 00004 0001 19970118  2   29.73\r\n\r\n 00021\t0002 19970101\t3 63.34\r\n"
    f = write(tmp_path / "cdnow.txt", text)
    names = ("customer", "id", "date", "quantity", "amount")
    raw = read_csv(f, delimiter="whitespace", header=False, column_names=names)
    assert list(raw.frame.columns) == ["source_row", *names]
    assert records(raw) == [
        [1, "00004", "0001", "19970101", "2", "29.33"],
        [2, "00004", "0001", "19970118", "2", "29.73"],
        [4, "00021", "0002", "19970101", "3", "63.34"],
    ]
    assert (raw.lines, raw.header_lines, raw.blank_lines, raw.unaccounted_lines) == (4, 0, 1, 0)
    assert read_header(f, delimiter="whitespace", header=False) == ["column1", "column2", "column3", "column4", "column5"]


def test_whitespace_fields_may_be_quoted_and_a_short_line_is_a_reject(tmp_path):
    f = write(tmp_path / "x.txt", 'id name   city\n1 "Ann Lee"  "New ""York"""\n2 Bob\n3 Cy Rome\n')
    raw = read_csv(f, delimiter="whitespace", max_bad_line_share=0.5)
    assert records(raw) == [[2, "1", "Ann Lee", 'New "York"'], [4, "3", "Cy", "Rome"]]
    assert rejects(raw) == [(3, 3, "2 fields where the header has 3", "2 Bob")]


@pytest.mark.parametrize("delimiter", ["\t", ";", "|", "tab"])
def test_other_delimiters(tmp_path, delimiter):
    sep = "\t" if delimiter == "tab" else delimiter
    f = write(tmp_path / "x.txt", f"id{sep}name\n1{sep}a,b\n2{sep}\"c{sep}d\"\n")
    raw = read_csv(f, delimiter=delimiter)
    assert records(raw) == [[2, "1", "a,b"], [3, "2", f"c{sep}d"]]
    assert read_header(f, delimiter=delimiter) == ["id", "name"]


def test_a_delimiter_must_be_one_character_or_whitespace(tmp_path):
    f = write(tmp_path / "x.csv", "a\n1\n")
    with pytest.raises(SourceFileError, match="x.csv: delimiter must be one character"):
        read_csv(f, delimiter=";;")


def test_files_without_header(tmp_path):
    f = write(tmp_path / "x.csv", "\n1,a\n2,b\n3\n")
    named = read_csv(f, header=False, column_names=["id", "name"], max_bad_line_share=0.5)
    assert records(named) == [[2, "1", "a"], [3, "2", "b"]]
    assert rejects(named) == [(4, 4, "1 field where column_names has 2", "3")]
    unnamed = read_csv(f, header=False, max_bad_line_share=0.5)
    assert list(unnamed.frame.columns) == ["source_row", "column1", "column2"]
    assert rejects(unnamed) == [(4, 4, "1 field where the first line has 2", "3")]
    assert read_header(f, header=False, column_names=["id", "name"]) == ["id", "name"]
    assert read_header(f, header=False) == ["column1", "column2"]
    assert (named.header_lines, named.blank_lines, named.unaccounted_lines) == (0, 1, 0)


def test_column_names_are_checked(tmp_path):
    f = write(tmp_path / "x.csv", "1,a\n")
    with pytest.raises(SourceFileError, match="column_names name the columns of a file without a header: set header = false"):
        read_csv(f, column_names=["id", "name"])
    with pytest.raises(SourceFileError, match="column_names names id more than once"):
        read_csv(f, header=False, column_names=["id", "id"])
    with pytest.raises(SourceFileError, match="a column cannot be named 'source_row'"):
        read_csv(f, header=False, column_names=["source_row", "x"])


def test_read_header_reads_a_compressed_file(tmp_path):
    f = tmp_path / "x.csv.gz"
    f.write_bytes(gzip.compress(b"\n id ;name\n1;a\n"))
    assert read_header(f, "auto", ";") == ["id", "name"]


# --------------------------------------------------------------------------- chunks


def test_chunks_cover_the_file_with_continuing_index_rows_and_lines(tmp_path):
    lines = ["id,note"]
    for i in range(1, 26):
        if i == 7:
            lines.append("")  # a blank line
        if i == 12:
            lines.append(f'{i},"two\nlines"')
        elif i == 18:
            lines.append(f"{i},bad,extra")
        else:
            lines.append(f"{i},n{i}")
    f = write(tmp_path / "x.csv", "\n".join(lines) + "\n")
    physical = "\n".join(lines).split("\n")
    whole = read_csv(f, max_bad_line_share=0.5)
    chunks = list(iter_csv(f, chunk_rows=5, max_bad_line_share=0.5))
    assert [len(c.frame) for c in chunks] == [5, 5, 5, 5, 4]
    frame = pd.concat([c.frame for c in chunks])
    pd.testing.assert_frame_equal(frame, whole.frame)
    assert frame.index.tolist() == list(range(24))
    # each record's source_row is its line in the file
    for row in frame.itertuples():
        assert physical[row.source_row - 1].startswith(f"{row.id},")
    spans = {k: v for c in chunks for k, v in c.line_spans.items()}
    assert spans == whole.line_spans == {frame.index[frame["id"] == "12"][0]: 2}
    bad = physical.index("18,bad,extra") + 1
    assert [r for c in chunks for r in rejects(c)] == rejects(whole) == [(bad, bad, "3 fields where the header has 2", "18,bad,extra")]
    assert sum(c.lines for c in chunks) == whole.lines == len(physical)
    assert all(c.unaccounted_lines == 0 for c in chunks)
    assert [c.header_lines for c in chunks] == [1, 0, 0, 0, 0]


def test_iter_csv_checks_the_file_before_handing_out_chunks(tmp_path):
    with pytest.raises(SourceFileError, match="missing.csv: file not found"):
        iter_csv(tmp_path / "missing.csv")


def test_too_many_malformed_lines_stop_the_chunks(tmp_path):
    good = [f"{i},n{i}" for i in range(1, 81)]
    bad = [f"{i}" for i in range(81, 101)]
    f = write(tmp_path / "x.csv", "id,name\n" + "\n".join(good + bad) + "\n")
    handed = []
    with pytest.raises(SourceFileError, match="malformed records"):
        for chunk in iter_csv(f, chunk_rows=30):
            handed.append(chunk)
    assert sum(len(c.frame) for c in handed) < 80  # the chunk with the bad lines is never handed out


def test_other_readers_build_a_raw_table_without_lines(tmp_path):
    raw = RawTable(frame=pd.DataFrame({"source_row": [1]}), path="x", encoding="", content_hash="h")
    assert raw.rejects.empty and list(raw.rejects.columns) == list(REJECT_COLUMNS)
    assert (raw.lines, raw.line_spans, raw.blank_lines, raw.unaccounted_lines) == (0, {}, 0, 0)


@pytest.mark.parametrize(
    ("name", "text", "fast"),
    [
        ("plain", "id,name,qty\n007,NA,\n1,NULL, 5 \n", True),
        ("quoted", 'id,name,note\n1,"Müller, Hans","he said ""hi"""\n2,"",x\n', True),
        ("crlf and bom", "\ufeffid,name\r\n1,a\r\n2,b\r\n", True),
        ("semicolons", "id;amount\n1;1.234,50\n2;(12,50)\n", True),
        ("a blank line", "id,name\n1,a\n\n2,b\n", False),
        ("a quoted line break", 'id,name\n1,"a\nb"\n2,c\n', False),
        ("a malformed line", "id,name\n1,a\n2,b,c\n3,d\n", False),
    ],
)
def test_the_fast_reader_gives_the_same_rows_as_the_record_reader(tmp_path, name, text, fast):
    """Whole files go through DuckDB's reader when every line is one record; otherwise
    record by record. The rows, their text and their line numbers are the same either way."""
    delimiter = ";" if "semicolons" in name else ","
    f = write(tmp_path / "x.csv", text)
    whole = read_csv(f, delimiter=delimiter, max_bad_line_share=0.5)
    (records_, ) = iter_csv(f, delimiter=delimiter, max_bad_line_share=0.5, chunk_rows=None)
    assert whole.reader == ("duckdb" if fast else "records") and records_.reader == "records"
    pd.testing.assert_frame_equal(whole.frame, records_.frame)
    assert (whole.lines, whole.unaccounted_lines) == (records_.lines, 0)
    g = tmp_path / "x.csv.gz"
    g.write_bytes(gzip.compress(text.encode("utf-8")))
    pd.testing.assert_frame_equal(read_csv(g, delimiter=delimiter, max_bad_line_share=0.5).frame, whole.frame)

"""Dates in mixed styles: detection per value, day/month order decided by the data, the bad-date share."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from salesml import schema
from salesml.cleaning import dates as D
from salesml.cleaning import rules as R
from salesml.config import CleaningSettings, TableSource

WHERE = "exports/orders.csv (order_lines)"


def ctx(date_format=(), share=0.02, table=schema.ORDER_LINES) -> R.Context:
    return R.Context(table=table, spec=TableSource(date_format=tuple(date_format)), settings=CleaningSettings(max_bad_date_share=share), where=WHERE)


def frame(**cols) -> pd.DataFrame:
    n = len(next(iter(cols.values())))
    return pd.DataFrame({"source_row": range(2, n + 2), **cols})


def days(values) -> list:
    return [None if pd.isna(v) else v.date() for v in values]


def problems(log) -> dict:
    return {int(i): r for i, r in zip(log.problems["idx"], log.problems["reason"], strict=True)}


def test_an_erp_export_mixing_styles_reads_every_value():
    df = frame(order_date=["2024-03-05", "2024/03/06", "2024年3月7日", "2024-03-08 14:30:00", "2024年3月9日 09:15", None, "2024/3/10"])
    before = df.copy()
    out, log = R.parse_dates(df, ctx())
    pd.testing.assert_frame_equal(df, before)  # the input is untouched
    assert days(out["order_date"]) == [date(2024, 3, 5), date(2024, 3, 6), date(2024, 3, 7), date(2024, 3, 8), date(2024, 3, 9), None, date(2024, 3, 10)]
    assert out["order_date"].dtype == "datetime64[ns]"
    assert log.problems.empty
    assert log.notes == ["order_date: dates read as ISO 8601, %Y/%m/%d, %Y年%m月%d日 (detected)"]


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("2024-03-05", date(2024, 3, 5)),
        ("2024-3-5", date(2024, 3, 5)),
        ("2024-03-05T23:59:59", date(2024, 3, 5)),
        ("2024-03-05T10:00:00+08:00", date(2024, 3, 5)),
        ("2024-03-05 10:00:00.250Z", date(2024, 3, 5)),
        ("2024/03/05", date(2024, 3, 5)),
        ("2024/03/05 10:00 PM", date(2024, 3, 5)),
        ("2024.03.05", date(2024, 3, 5)),
        ("2024年3月5日", date(2024, 3, 5)),
        ("2024年03月05日 14:30", date(2024, 3, 5)),
        ("05.03.2024", date(2024, 3, 5)),
        ("5.3.2024 08:00", date(2024, 3, 5)),
        ("20240305", date(2024, 3, 5)),
        ("5 Mar 2024", date(2024, 3, 5)),
        ("5 March 2024", date(2024, 3, 5)),
        ("05-Mar-2024", date(2024, 3, 5)),
        ("Mar 5, 2024", date(2024, 3, 5)),
        ("２０２４-０３-０５", date(2024, 3, 5)),
    ],
)
def test_each_style_alone(text, day):
    out, log = R.parse_dates(frame(order_date=[text]), ctx())
    assert days(out["order_date"]) == [day]
    assert log.problems.empty


def test_day_and_month_order_is_decided_by_the_data():
    out, log = R.parse_dates(frame(order_date=["13/01/2024", "05/03/2024", "2024-03-06"]), ctx())
    assert days(out["order_date"]) == [date(2024, 1, 13), date(2024, 3, 5), date(2024, 3, 6)]
    assert log.notes == ["order_date: dates read as ISO 8601, %d/%m/%Y (detected)"]
    out, log = R.parse_dates(frame(order_date=["1/13/2024", "05/03/2024"]), ctx())
    assert days(out["order_date"]) == [date(2024, 1, 13), date(2024, 5, 3)]
    assert log.notes == ["order_date: dates read as %m/%d/%Y (detected)"]
    out, _ = R.parse_dates(frame(order_date=["25-12-2023", "05-03-2024"]), ctx())
    assert days(out["order_date"]) == [date(2023, 12, 25), date(2024, 3, 5)]


def test_undecided_day_and_month_order_asks_for_date_format():
    with pytest.raises(R.CleaningError) as e:
        R.parse_dates(frame(order_date=["03/04/2024", "05/06/2024", "2024-01-01"]), ctx())
    msg = str(e.value)
    assert msg.startswith(WHERE + ": the dates in 'order_date' are ambiguous")
    assert "%m/%d/%Y and as %d/%m/%Y" in msg and "'03/04/2024'" in msg
    assert 'date_format = ["%d/%m/%Y"] (day first) or ["%m/%d/%Y"] (month first)' in msg
    assert "[sources.<name>.tables.order_lines]" in msg


def test_day_first_and_month_first_in_one_column_is_an_error():
    with pytest.raises(R.CleaningError) as e:
        R.parse_dates(frame(order_date=["13/01/2024", "01/13/2024", "05/03/2024"]), ctx())
    msg = str(e.value)
    assert msg.startswith(WHERE + ": the dates in 'order_date' mix day-first and month-first")
    assert "'13/01/2024'" in msg and "'01/13/2024'" in msg and "date_format" in msg


def test_configured_formats_win():
    out, log = R.parse_dates(frame(order_date=["03/04/2024"]), ctx(["%d/%m/%Y"]))
    assert days(out["order_date"]) == [date(2024, 4, 3)] and not log.notes
    out, _ = R.parse_dates(frame(order_date=["03/04/2024", "2024-04-05", "04/05/2024 10:30"]), ctx(["%m/%d/%Y", "%Y-%m-%d"]))
    assert days(out["order_date"]) == [date(2024, 3, 4), date(2024, 4, 5), date(2024, 4, 5)]
    out, _ = R.parse_dates(frame(order_date=["03/04/2024 10:30"]), ctx(["%d/%m/%Y %H:%M"]))
    assert days(out["order_date"]) == [date(2024, 4, 3)]


def test_a_configured_format_that_misses_too_much_stops_with_the_format_to_add():
    with pytest.raises(R.CleaningError) as e:
        R.parse_dates(frame(order_date=["05/03/2024", "2024-03-06", "2024-03-07"]), ctx(["%d/%m/%Y"]))
    msg = str(e.value)
    assert msg.startswith(WHERE + ": 2 of 3 values in 'order_date' (66.7%) are not dates in %d/%m/%Y")
    assert "e.g. '2024-03-06', '2024-03-07'" in msg
    assert 'set date_format = ["%d/%m/%Y", "%Y-%m-%d"] under [sources.<name>.tables.order_lines]' in msg
    assert "max_bad_date_share = 0.02" in msg


def test_mixed_styles_that_no_style_reads_stop_the_load_with_examples():
    # 35 % of the rows in a style not detected: the load stops instead of quarantining them
    good = [f"2024-03-{d:02d}" for d in range(1, 14)] * 5
    odd = [f"{d}th of March 24" for d in range(1, 8)] * 5
    with pytest.raises(R.CleaningError) as e:
        R.parse_dates(frame(order_date=good + odd), ctx())
    msg = str(e.value)
    assert msg.startswith(WHERE + ": 35 of 100 values in 'order_date' (35.0%)")
    shown = msg.split("e.g. ")[1].split(";")[0]
    assert shown == "'1th of March 24', '2th of March 24', '3th of March 24', '4th of March 24', '5th of March 24'"  # 5 examples
    assert 'date_format = ["%d/%m/%Y"]' in msg and "[sources.<name>.tables.order_lines]" in msg
    # values of a detected style's shape that are no real dates: the export is wrong, not the format
    with pytest.raises(R.CleaningError, match="no real dates: check the export"):
        R.parse_dates(frame(order_date=["2024-02-30", "2024-02-31", "2024-03-01"]), ctx())


def test_a_few_unreadable_values_are_quarantined_below_the_share():
    values = [f"2024/01/{d:02d}" for d in range(1, 31)] * 2 + ["2024-01-05"] * 40 + ["2024-02-30"]
    out, log = R.parse_dates(frame(order_date=values), ctx())
    assert problems(log) == {100: "not a date (YYYY-MM-DD or %Y/%m/%d)"}
    assert log.problems["detail"].tolist() == ["2024-02-30"]
    assert pd.isna(out["order_date"].iloc[100]) and out["order_date"].iloc[0] == pd.Timestamp("2024-01-01")
    assert log.notes == ["order_date: dates read as ISO 8601, %Y/%m/%d (detected)"]
    # a plain ISO column: no note, and the reason as before
    _, log = R.parse_dates(frame(order_date=["2024-01-31", "2024-02-30"]), ctx(share=0.5))
    assert problems(log) == {1: "not a date (YYYY-MM-DD)"} and not log.notes


def test_blanks_are_missing_and_typed_dates_pass():
    out, log = R.parse_dates(frame(order_date=["2024-03-05", "  ", None]), ctx())
    assert days(out["order_date"]) == [date(2024, 3, 5), None, None] and log.problems.empty
    typed = frame(order_date=[pd.Timestamp("2024-03-05 14:30"), pd.Timestamp("2024-03-06")])
    out, _ = R.parse_dates(typed, ctx())
    assert days(out["order_date"]) == [date(2024, 3, 5), date(2024, 3, 6)]
    assert out["order_date"].iloc[0] == pd.Timestamp("2024-03-05")


def test_choose_and_read_on_their_own():
    styles, note = D.choose_date_format(pd.Series(["2024-03-05", "20240306"]), column="d")
    assert [s.label for s in styles] == ["ISO 8601", "%Y%m%d"] and note == "d: dates read as ISO 8601, %Y%m%d (detected)"
    assert D.choose_date_format(pd.Series(["2024-03-05"]))[1] is None
    assert [s.label for s in D.choose_date_format(pd.Series(["x"]), ["%d.%m.%y"])[0]] == ["%d.%m.%y"]
    got = D.read_dates(pd.Series(["2024-03-05", "20240306", "junk", None], index=[7, 8, 9, 10]), styles)
    assert got.index.tolist() == [7, 8, 9, 10]
    assert days(got) == [date(2024, 3, 5), date(2024, 3, 6), None, None]
    assert "%Y-%m-%d" in R.DATE_FORMATS and R.choose_date_format is D.choose_date_format


def test_many_rows_few_distinct_values():
    n = 300_000
    text = np.where(np.arange(n) % 3 == 0, "2024-03-05 10:00:00", np.where(np.arange(n) % 3 == 1, "2024/03/06", "2024年3月7日")).astype(object)
    out, log = R.parse_dates(frame(order_date=text), ctx())
    expected = np.where(np.arange(n) % 3 == 0, np.datetime64("2024-03-05", "ns"), np.where(np.arange(n) % 3 == 1, np.datetime64("2024-03-06", "ns"), np.datetime64("2024-03-07", "ns")))
    np.testing.assert_array_equal(out["order_date"].to_numpy(), expected)
    assert log.problems.empty

"""The index of scheduled pages: every run with its status and a link or its error, escaped."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd

from salesml.delivery.publish import index_html


def test_the_index_lists_runs_newest_first_with_links_and_errors_escaped(tmp_path):
    records = pd.DataFrame(
        [
            ("m", "2024-01-31T22:00:00Z", "team:T1", "ok", 1, '{"period": "2024-01", "scope": "team:T1", "warehouse": "/x.duckdb"}',
             str(tmp_path / "2024-01" / "r" / "team-T1.html"), None),
            ("m", "2024-02-29T22:00:00Z", "rep:<b>", "failed", 3, "{}", None, "report r failed in cell 4: <script>alert(1)</script>"),
        ],
        columns=["schedule", "slot", "audience", "status", "attempts", "parameters", "output", "error"],
    )
    page = index_html(records, Path(tmp_path), datetime(2024, 3, 1, 8, 0))
    assert page.index("2024-02-29T22:00:00Z") < page.index("2024-01-31T22:00:00Z")  # newest first
    assert '<a href="2024-01/r/team-T1.html">team-T1.html</a>' in page
    assert "period=2024-01, scope=team:T1" in page and "/x.duckdb" not in page
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "rep:&lt;b&gt;" in page
    assert "2 page(s); written 2024-03-01T08:00:00" in page
    assert "<script" not in page.lower() and "http" not in page  # a plain page: no script, nothing fetched

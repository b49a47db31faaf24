"""The workbench's widget view: it builds, follows a filter change in place, and shows errors."""

from __future__ import annotations

from datetime import date

import pytest

from salesml.explore import Workbench
from salesml.explore.widgets import WorkbenchView

FEB = {"start": date(2024, 2, 1), "end": date(2024, 2, 29)}


@pytest.fixture(scope="module")
def view(toy_wh):
    wb = Workbench(toy_wh)
    wb.set(**FEB)
    v = WorkbenchView(wb)
    yield v
    wb.close()


def test_view_builds_with_its_hooks(view):
    for name, w in view.filters.items():
        assert f"salesml-f-{name}" in w._dom_classes
    assert view.region.options[0] == ("all", "")
    for w, cls in ((view.kpis, "salesml-kpis"), (view.trend, "salesml-trend"), (view.breakdown, "salesml-breakdown"),
                   (view.table, "salesml-table"), (view.message, "salesml-message"), (view.crumbs, "salesml-crumbs"),
                   (view.export, "salesml-export"), (view.tabs, "salesml-tabs")):
        assert cls in w._dom_classes
    assert "¥510" in view.kpis.value and list(view.breakdown.data[0].x) == ["West", "East"]


def test_a_filter_change_updates_the_widgets(view):
    view.region.value = "West"
    assert [v for _, v in view.team.options] == ["", "T2"]
    assert "¥300" in view.kpis.value  # R2 100 + R3 200
    assert list(view.breakdown.data[0].x) == ["T2"] and "T2" in view.table.value
    assert [b.description for b in view.crumbs.children] == ["All", "West"]
    view.crumbs.children[0].click()
    assert view.region.value == "" and "¥510" in view.kpis.value
    view.measure.value = "orders"
    assert "Orders" in view.breakdown.layout.title.text
    view.measure.value = "revenue"


def test_errors_show_in_the_message_and_clear_the_views(view):
    view.start.value = date(2024, 3, 15)
    assert "start must be on or before the end" in view.message.value
    assert view.kpis.value == "" and view.table.value == "" and not list(view.breakdown.data[0].x)
    view.start.value = FEB["start"]
    assert view.message.value == "" and "¥510" in view.kpis.value

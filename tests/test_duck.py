"""The process's scratch DuckDB: cursors of one in-memory database."""

from __future__ import annotations

import gc

import pyarrow as pa

from salesml import duck


def test_cursors_share_functions_but_keep_their_own_registrations_and_temp_macros():
    with duck.scratch() as a, duck.scratch() as b:
        a.register("t", pa.table({"x": [1, 2]}))
        b.register("t", pa.table({"x": [10]}))
        a.execute("CREATE TEMP MACRO twice(v) AS v * 2")
        b.execute("CREATE TEMP MACRO twice(v) AS v * 3")
        assert a.execute("SELECT sum(twice(x)) FROM t").fetchone()[0] == 6
        assert b.execute("SELECT sum(twice(x)) FROM t").fetchone()[0] == 30


def test_a_function_is_created_once_and_outlives_the_code_that_made_it():
    made = []

    def make():
        suffix = "!"  # a closure: nothing but the database holds it once made

        def shout(values: pa.Array) -> pa.Array:
            return pa.array([None if v is None else v + suffix for v in values.to_pylist()])

        made.append(1)
        return shout

    for _ in range(3):
        duck.ensure_function("_test_shout", make, ["VARCHAR"], "VARCHAR", type="arrow")
    assert made == [1]
    gc.collect()
    with duck.scratch() as con:  # a later cursor calls it (a freed function crashed here)
        assert con.execute("SELECT _test_shout('hey')").fetchone()[0] == "hey!"


def test_a_forked_process_opens_its_own_database(monkeypatch):
    with duck.scratch() as con:
        con.execute("SELECT 1")
    parent = duck._base()
    monkeypatch.setattr(duck.os, "getpid", lambda: -1)
    child = duck._base()
    assert child is not parent
    with duck.scratch() as con:
        assert con.execute("SELECT 42").fetchone()[0] == 42

"""The thread budget of model fits: [compute] threads applied to the native pools."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

import numpy  # noqa: F401  (its BLAS pool is one of those limited)
import pytest
from threadpoolctl import threadpool_info

from salesml import compute
from salesml.config import ConfigError, Settings, load_settings


def _limits() -> set[int]:
    return {p["num_threads"] for p in threadpool_info()}


def test_the_budget_limits_every_native_pool_inside_and_restores_them_after():
    s = Settings().with_overrides(compute={"threads": 1})
    before = _limits()
    with compute.thread_budget(s) as n:
        assert n == 1 and _limits() == {1}
    assert _limits() == before
    assert compute.threads(Settings()) == compute.available_cores() >= 1  # 0 = every core this process may use


@compute.budgeted
def _inside(settings: Settings) -> set[int]:
    return _limits()


def _worker_limits() -> set[int]:
    return _limits()


def test_a_budgeted_function_and_a_pool_worker_run_within_their_threads():
    assert _inside(Settings().with_overrides(compute={"threads": 1})) == {1}
    with ProcessPoolExecutor(max_workers=1, initializer=compute.one_thread_per_worker) as ex:
        assert ex.submit(_worker_limits).result() == {1}


def test_the_setting_is_checked(tmp_path, no_config):
    cfg = tmp_path / "salesml.toml"
    cfg.write_text("[compute]\nthreads = -1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="compute.threads must be 0"):
        load_settings(cfg)

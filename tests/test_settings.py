from __future__ import annotations

import pytest

from nianbao.errors import SettingsError
from nianbao.settings import Settings, load_settings


def test_defaults() -> None:
    assert load_settings(env={}) == Settings()


def test_unknown_key_is_named_with_the_valid_ones(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cfg = tmp_path / "n.toml"
    cfg.write_text("[nianbao]\nmax_page = 3\n")
    with pytest.raises(SettingsError) as err:
        load_settings(cfg, env={})
    assert "'max_page'" in str(err.value) and "max_pages" in str(err.value)


def test_env_and_file_and_overrides(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cfg = tmp_path / "n.toml"
    cfg.write_text("max_pages = 7\ntask_runner = 'processes'\n")
    s = load_settings(cfg, env={"NIANBAO_MAX_WORKERS": "4", "NIANBAO_PROGRESS": "false"}, out_dir="o")
    assert (s.max_pages, s.task_runner, s.max_workers, s.progress, s.out_dir) == (7, "processes", 4, False, "o")


@pytest.mark.parametrize("key,value", [("max_pages", "many"), ("task_runner", "gpu"), ("max_workers", True)])
def test_bad_values_are_rejected(key: str, value: object) -> None:
    with pytest.raises(SettingsError, match=key):
        load_settings(env={}, **{key: value})

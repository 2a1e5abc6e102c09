"""The local cluster's `.data/pg` link (`make run`): a link left dangling by a deleted cluster folder is
recreated with a clear line instead of failing with FileExistsError."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from api.devtools import cluster


def test_make_run_relinks_a_dangling_data_link(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / ".data"
    data.mkdir()
    deleted = tmp_path / "deleted-cluster"
    (data / "pg").symlink_to(deleted, target_is_directory=True)   # the folder it named is gone
    home = tmp_path / "dev-cluster"
    monkeypatch.setattr(cluster, "DATA_DIR", data)
    monkeypatch.setattr(cluster, "IS_ROOT", True)                  # the link exists only for root runs
    monkeypatch.setattr(cluster, "cluster_home", lambda name: home)

    dev = cluster.dev_cluster()

    assert dev.home == home
    assert os.readlink(data / "pg") == str(home)
    out = capsys.readouterr().out
    assert f"pointed at {deleted}, which no longer exists; relinking it to {home}" in out


def test_a_correct_link_is_kept_silently_and_a_missing_one_created(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "dev-cluster"
    home.mkdir()
    link = tmp_path / ".data" / "pg"
    cluster.link_data_dir(link, home)                  # none yet: created (with its parent folder)
    assert os.readlink(link) == str(home)
    cluster.link_data_dir(link, home)                  # already right: nothing happens
    assert os.readlink(link) == str(home)
    assert capsys.readouterr().out == ""


def test_a_link_to_another_cluster_is_moved_and_a_real_directory_left_alone(tmp_path: Path,
                                                                            capsys: pytest.CaptureFixture[str]) -> None:
    old, home = tmp_path / "old-checkout-cluster", tmp_path / "dev-cluster"
    old.mkdir()
    link = tmp_path / "pg"
    link.symlink_to(old, target_is_directory=True)
    cluster.link_data_dir(link, home)
    assert os.readlink(link) == str(home)
    assert "is another cluster's folder" in capsys.readouterr().out
    assert old.is_dir(), "the other cluster's data is not touched"

    real = tmp_path / "real-pg"
    real.mkdir()
    cluster.link_data_dir(real, home)
    assert real.is_dir() and not real.is_symlink()

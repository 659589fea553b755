"""Finding the notebook a kernel runs when nobody told it (nbclient, papermill)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from jupyter_mlops.tracking.environment import find_notebook, notebook_path

CELL = "%%mlops run --name a\nx = 1\n"


def write(path: Path, *sources: str, papermill_input: str | None = None) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    if papermill_input is not None:
        nb.metadata["papermill"] = {"input_path": papermill_input, "output_path": str(path)}
    nbformat.write(nb, path)
    return path


def test_the_notebook_holding_the_cell_is_found(tmp_path: Path) -> None:
    write(tmp_path / "other.ipynb", "%%mlops run --name b\nx = 2")
    train = write(tmp_path / "train.ipynb", "import os", CELL)
    found = find_notebook(tmp_path, "x = 1")
    assert found is not None and found.path == train and found.executed is None


def test_a_papermill_output_names_its_input_and_is_the_executed_copy(tmp_path: Path) -> None:
    source = write(tmp_path / "train.ipynb", CELL)
    output = write(tmp_path / "out.ipynb", "lr = 0.5", CELL, papermill_input="train.ipynb")
    found = find_notebook(tmp_path, "x = 1")
    assert found is not None and found.path == source and found.executed == output


def test_two_unrelated_copies_of_the_cell_are_not_guessed_between(tmp_path: Path) -> None:
    write(tmp_path / "a.ipynb", CELL)
    write(tmp_path / "b.ipynb", CELL)
    assert find_notebook(tmp_path, "x = 1") is None
    assert find_notebook(tmp_path, "x = 3") is None


def test_a_server_relative_session_name_is_found_above_the_kernel_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Jupyter Server names the notebook relative to its root; the kernel runs in its folder.
    (tmp_path / "notebooks").mkdir()
    notebook = write(tmp_path / "notebooks" / "train.ipynb", CELL)
    monkeypatch.chdir(tmp_path / "notebooks")
    monkeypatch.setenv("JPY_SESSION_NAME", "notebooks/train.ipynb")
    assert notebook_path() == notebook

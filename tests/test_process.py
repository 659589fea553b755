"""The on-disk protocol of long-running processes (jupyter_mlops.process)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

from jupyter_mlops.errors import Conflict, InvalidInput, close_names, did_you_mean
from jupyter_mlops.process import (
    Unreadable,
    check_port,
    free_port,
    is_running,
    read_json,
    write_json,
)
from tests.helpers import wait_for


class Record(BaseModel):
    name: str
    port: int


def test_json_files_are_written_whole_and_read_typed(tmp_path: Path) -> None:
    path = tmp_path / "state" / "record.json"
    write_json(path, Record(name="a", port=1))
    write_json(path, {"name": "b", "port": 2})
    assert read_json(path, Record) == Record(name="b", port=2)
    assert [p.name for p in path.parent.iterdir()] == ["record.json"]  # no temporary left
    assert read_json(tmp_path / "missing.json", Record) is None


@pytest.mark.parametrize(
    ("text", "says"),
    [("{not json", "Invalid JSON"), ('{"name": "a", "port": "x"}', "port"), ("[]", "")],
)
def test_a_broken_file_reads_as_unreadable_naming_the_problem(
    tmp_path: Path, text: str, says: str
) -> None:
    path = tmp_path / "record.json"
    path.write_text(text)
    got = read_json(path, Record)
    assert isinstance(got, Unreadable)
    assert str(got).startswith("record.json is unreadable: ") and says in str(got)


def test_a_failed_write_leaves_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "record.json"
    write_json(path, {"name": "a", "port": 1})
    with pytest.raises(TypeError):
        write_json(path, {"name": object()})
    assert read_json(path, Record) == Record(name="a", port=1)
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]


def test_a_pid_counts_only_with_its_program_and_folder(tmp_path: Path) -> None:
    marker = str(tmp_path / "folder")
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", marker],
    )
    try:
        # Until the child has exec'd Python, /proc shows the parent's command line.
        wait_for(lambda: is_running(child.pid, "-c", marker), "the child process", timeout=30)
        assert not is_running(child.pid, "-c", marker + "-other")  # not a prefix match
        assert not is_running(child.pid, "jupyter_mlops.serving.supervisor", marker)
        assert not is_running(0, "-c")
    finally:
        child.kill()
        child.wait()
    assert not is_running(child.pid, "-c", marker)
    assert is_running(os.getpid())


def test_ports() -> None:
    port = free_port()
    assert check_port(port) == port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        with pytest.raises(Conflict, match=f"Port {port} on 127.0.0.1 is in use") as err:
            check_port(port)
        assert err.value.field == "port"
    with pytest.raises(InvalidInput, match="outside 1024-65535"):
        check_port(80)


def test_one_did_you_mean() -> None:
    assert did_you_mean("chrun", ["churn", "fraud"]) == "Did you mean churn?"
    assert did_you_mean("x", ["b", "a"], listing="Models") == "Models: a, b."
    assert did_you_mean("x", [], listing="Models", empty="None yet.") == "None yet."
    assert did_you_mean("x", ["a"]) == ""
    many = [f"view_{i:02d}" for i in range(30)]
    assert did_you_mean("zzz", many, listing="Known").endswith("view_19 ...")
    assert close_names(["chrun", "frad"], ["churn", "fraud", "other"]) == ["churn", "fraud"]

import os

import pytest

import labsupport as lab
from labsupport import toolchain


def test_doctor_lists_every_tool():
    report = lab.doctor()
    names = {r["tool"] for r in report.rows}
    assert {"gcc", "wine", "mingw", "valgrind", "heaptrack", "pahole", "node", "mimalloc"} <= names
    text = str(report)
    assert "gcc" in text and "lessons" in text
    assert "<table>" in report._repr_html_()


def test_gcc_found():
    assert lab.have("gcc") and lab.tool_path("gcc")


def test_missing_message_names_the_package(monkeypatch):
    monkeypatch.setattr(toolchain, "_locate", lambda name: (None, None))
    assert not lab.have("wine")
    msg = lab.missing("wine")
    assert "sudo apt-get install -y wine wine64" in msg and "04" in msg
    with pytest.raises(lab.MissingTool, match="apt-get install -y dwarves"):
        lab.require("pahole")


def test_unknown_tool_is_a_clear_error():
    with pytest.raises(KeyError, match="unknown tool"):
        lab.have("no-such-tool")


def test_mimalloc_files_come_from_the_wheel():
    mi = lab.mimalloc()
    for p in (mi.shared_lib, mi.static_lib, mi.object_file, mi.include_dir / "mimalloc.h"):
        assert p.exists(), p
    assert "site-packages" in str(mi.shared_lib)
    assert mi.version.startswith("3.")


def test_doctor_command_line(capsys):
    from labsupport.__main__ import main
    assert main(["doctor"]) == 0
    assert "gcc" in capsys.readouterr().out


def test_cache_dir_honours_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("LABSUPPORT_CACHE", str(tmp_path / "c"))
    assert lab.cache_dir() == tmp_path / "c" and (tmp_path / "c").is_dir()


def test_wine_programs_are_found_in_one_place():
    from labsupport import toolchain
    loader, server = toolchain.wine_program("loader"), toolchain.wine_program("server")
    if not toolchain.have("wine"):
        assert loader is None
        return
    assert loader and os.access(loader, os.X_OK) and "wine" in os.path.basename(loader)
    assert server is None or "wineserver" in os.path.basename(server)

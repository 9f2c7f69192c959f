"""CMake builds: the wheel's cmake, the cache key, cached failures, paths shortened."""
import textwrap

import pytest

import labsupport as lab
from labsupport import cmakebuild

pytestmark = pytest.mark.skipif(not lab.have("cmake"), reason="the cmake wheel is not installed")

HELLO = textwrap.dedent("""\
    #include <stdio.h>
    int main(void) { printf("value %d\\n", VALUE); return 0; }
""")


def project(folder, *, value=1, link=""):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hello.c").write_text(HELLO)
    (folder / "CMakeLists.txt").write_text(textwrap.dedent(f"""\
        cmake_minimum_required(VERSION 3.16)
        project(hello C)
        set(VALUE "{value}" CACHE STRING "")
        add_executable(hello hello.c)
        target_compile_definitions(hello PRIVATE VALUE=${{VALUE}})
        {link}
    """))
    return folder


def run(build):
    return lab.run_program([str(build.path("hello"))], timeout=10).stdout.strip()


def test_cmake_is_the_wheels():
    path = lab.cmake_path()
    assert path and "site-packages" in path and path.endswith("/cmake")


def test_build_then_cache_hit(tmp_path, fresh_cache):
    src = project(tmp_path / "p")
    first = lab.cmake_build(src)
    assert first.ok and first.stage == "done" and not first.cached
    assert run(first) == "value 1"
    mtime = first.path("hello").stat().st_mtime_ns
    again = lab.cmake_build(src)
    assert again.cached and again.build_dir == first.build_dir
    assert again.path("hello").stat().st_mtime_ns == mtime      # not rebuilt
    assert str(fresh_cache) in str(first.build_dir)             # under lab.cache_dir()


def test_editing_a_file_rebuilds(tmp_path, fresh_cache):
    src = project(tmp_path / "p")
    a = lab.cmake_build(src)
    (src / "hello.c").write_text(HELLO.replace("value", "VALUE"))
    b = lab.cmake_build(src)
    assert b.build_dir != a.build_dir and not b.cached
    assert (run(a), run(b)) == ("value 1", "VALUE 1")


def test_options_are_part_of_the_key(tmp_path, fresh_cache):
    src = project(tmp_path / "p")
    a = lab.cmake_build(src, options={"VALUE": 1})
    b = lab.cmake_build(src, options={"VALUE": 2})
    assert a.build_dir != b.build_dir
    assert (run(a), run(b)) == ("value 1", "value 2")


def test_extra_files_are_part_of_the_key(tmp_path, fresh_cache):
    src = project(tmp_path / "p")
    extra = tmp_path / "outside.txt"
    extra.write_text("1")
    a = lab.cmake_build(src, extra_files=[extra])
    extra.write_text("2")
    b = lab.cmake_build(src, extra_files=[extra])
    assert a.build_dir != b.build_dir


def test_unknown_target_becomes_dash_l_and_the_failure_is_cached(tmp_path, fresh_cache):
    src = project(tmp_path / "p", link="target_link_libraries(hello PRIVATE no-such-target)")
    b = lab.cmake_build(src)
    assert not b.ok and b.stage == "build"
    assert "-lno-such-target" in b.link_line("hello")
    assert "cannot find -lno-such-target" in b.errors()
    again = lab.cmake_build(src)
    assert again.cached and not again.ok and again.errors() == b.errors()


def test_outputs_have_no_machine_paths(tmp_path, fresh_cache):
    src = project(tmp_path / "p", link="target_link_libraries(hello PRIVATE no-such-target)")
    b = lab.cmake_build(src)
    for text in [b.log, b.link_line("hello"), b.errors(), str(b)]:
        assert str(tmp_path) not in text and str(fresh_cache) not in text


def test_find_package_mimalloc_from_the_wheel(tmp_path, fresh_cache):
    src = project(tmp_path / "p", link="find_package(mimalloc 3.4 CONFIG REQUIRED)\n"
                                       "target_link_libraries(hello PRIVATE mimalloc-static)")
    b = lab.cmake_build(src)
    assert b.ok, b.log
    assert "<mimalloc wheel>/lib/mimalloc-3.4/libmimalloc.a" in b.link_line("hello")


def test_missing_cmake_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(cmakebuild, "cmake_path", lambda: None)
    with pytest.raises(lab.MissingTool, match="pip install cmake"):
        lab.cmake_build(project(tmp_path / "p"))


def test_doctor_rows():
    names = {row["tool"] for row in lab.doctor().rows}
    assert {"cmake", "jsoncpp"} <= names
    assert "libjsoncpp-dev" in lab.missing("jsoncpp")


def test_mimalloc_version_is_part_of_the_key(tmp_path, monkeypatch):
    src = project(tmp_path / "p")
    a = cmakebuild.build_key(src, {}, cmake=lab.cmake_path())
    monkeypatch.setattr(cmakebuild, "_mimalloc_version", lambda: "9.9.9")
    assert cmakebuild.build_key(src, {}, cmake=lab.cmake_path()) != a


def test_plain_text_drops_cmake_colour_codes():
    from labsupport.cmakebuild import plain_text
    assert plain_text("\x1b[31mCMake Error at CMakeLists.txt:7:\n  x\x1b[0m\n") == "CMake Error at CMakeLists.txt:7:\n  x\n"

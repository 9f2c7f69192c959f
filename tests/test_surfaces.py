"""Every labsupport module declares its public surface, and every declared name exists."""
import importlib
import pkgutil

import labsupport


def _modules():
    for info in pkgutil.walk_packages(labsupport.__path__, "labsupport."):
        if info.name in ("labsupport._runner",):
            continue
        yield info.name


def test_every_module_has_all_and_it_resolves():
    missing, broken = [], []
    for name in _modules():
        mod = importlib.import_module(name)
        if not hasattr(mod, "__all__"):
            missing.append(name)
            continue
        broken += [f"{name}.{n}" for n in mod.__all__ if not hasattr(mod, n)]
    assert not missing, f"no __all__: {missing}"
    assert not broken, f"declared but missing: {broken}"


def test_the_package_api_resolves():
    for name in labsupport.__all__:
        assert getattr(labsupport, name) is not None, name

"""A room on one server: a real JupyterHub (PyPI) behind configurable-http-proxy (npm, the
course's node_modules), started with hub/jupyterhub_config.py on loopback ports.

Two learners log in with a password, the hub starts a server for each, and each runs the
first cells of their own working copy of lesson 00 in a kernel (REST API + the kernel's
websocket): `import labsupport as lab`, a %%cffi cell, `lab.run_c` on a NULL write. Then:
each one's working copy is theirs alone; one learner's memory-hungry `lab.run_c` child is
stopped by the course's memory cap while the other's cell runs; one learner's direct NULL
write kills their kernel, not the other's, nor their own server.

Skipped (with the reason) when jupyterhub or the proxy is not installed: `./lab setup`
installs both (pyproject.toml's "hub" extra, package.json).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "hub" / "jupyterhub_config.py"
PROXY = ROOT / "node_modules" / ".bin" / "configurable-http-proxy"
PASSWORD = "memory-course-test"
USERS = ("ada", "grace")

requests = pytest.importorskip("requests")
websocket = pytest.importorskip("websocket", reason="websocket-client is not installed")


def _missing() -> str | None:
    try:
        import jupyterhub  # noqa: F401
    except ImportError:
        return "jupyterhub is not installed (./lab setup installs pyproject.toml's 'hub' extra)"
    if not PROXY.exists():
        return "configurable-http-proxy is not in node_modules (./lab setup runs npm ci)"
    if not shutil.which("node"):
        return "node is not installed (configurable-http-proxy needs it)"
    if not (Path(sys.executable).parent / "jupyterhub-singleuser").exists():
        return "jupyterhub-singleuser is not in the venv"
    return None


needs_hub = pytest.mark.skipif(_missing() is not None, reason=str(_missing()))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Hub:
    def __init__(self, base: str, token: str, state: Path):
        self.base, self.token, self.state = base, token, state

    def api(self, method: str, path: str, **kw):
        r = requests.request(method, f"{self.base}/hub/api{path}",
                             headers={"Authorization": f"token {self.token}"}, timeout=60, **kw)
        return r


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    state = tmp_path_factory.mktemp("hub")
    token = uuid.uuid4().hex
    # the test's own service: an admin token to create users' tokens and start servers
    (state / "jupyterhub_config_local.py").write_text(
        "c.JupyterHub.services = [{'name': 'course-test', 'api_token': %r}]\n"
        "c.JupyterHub.load_roles = [{'name': 'course-test', 'services': ['course-test'],\n"
        "    'scopes': ['admin:users', 'admin:servers', 'tokens', 'access:servers', 'list:users']}]\n"
        % token)
    # an admin's prepared course cache (hub/prepare_cache.sh), in miniature, and a shared zig cache
    prepared = state / "prepared"
    (prepared / "zig").mkdir(parents=True)
    (prepared / "prepared-by-admin.txt").write_text("x")
    port = _free_port()
    env = {**os.environ, "LABHUB_STATE": str(state), "LABHUB_PORT": str(port),
           "LABHUB_PREPARED_CACHE": str(prepared), "LABHUB_SHARED_ZIG_CACHE": str(prepared / "zig"),
           "LABHUB_HUB_PORT": str(_free_port()), "LABHUB_PROXY_API_PORT": str(_free_port()),
           "LABHUB_PASSWORD": PASSWORD, "LABHUB_USERS": ",".join(USERS), "LABHUB_SPAWNER": "simple"}
    env.pop("LABSUPPORT_CACHE", None)          # each learner: ~/.cache/labsupport in their home
    env.pop("JUPYTER_RUNTIME_DIR", None)
    log = open(state / "hub.log", "w")          # noqa: SIM115 - closed below
    proc = subprocess.Popen([str(Path(sys.executable).parent / "jupyterhub"), "-f", str(CONFIG)],
                            cwd=state, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    h = Hub(base, token, state)
    deadline = time.monotonic() + 90
    while True:
        try:
            if h.api("GET", "/").status_code == 200:
                break
        except requests.RequestException:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("jupyterhub did not start:\n" + (state / "hub.log").read_text()[-3000:])
        time.sleep(0.3)
    try:
        yield h
    finally:
        for user in USERS:
            try:
                h.api("DELETE", f"/users/{user}/server")
            except requests.RequestException:
                pass
        proc.send_signal(signal.SIGTERM)           # the hub stops the servers it started
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def _login(hub: Hub, user: str) -> requests.Session:
    """The login form, as a browser sends it."""
    s = requests.Session()
    s.get(f"{hub.base}/hub/login", timeout=30)
    xsrf = s.cookies.get("_xsrf")
    r = s.post(f"{hub.base}/hub/login?next=", data={"username": user, "password": PASSWORD, "_xsrf": xsrf},
               allow_redirects=False, timeout=60)
    assert r.status_code == 302, f"login of {user} failed: {r.status_code} {r.text[:300]}"
    assert any(c.name.startswith("jupyterhub-session") or c.name == "jupyterhub-hub-login"
               for c in s.cookies), list(s.cookies.keys())
    return s


class Learner:
    """One logged-in learner: their token, their server, one kernel on their working copy."""

    def __init__(self, hub: Hub, name: str):
        self.hub, self.name = hub, name
        self.session = _login(hub, name)
        r = hub.api("POST", f"/users/{name}/tokens", json={"note": "test", "expires_in": 3600})
        assert r.status_code in (200, 201), r.text
        self.token = r.json()["token"]
        self.kernel = None
        self.ws = None

    @property
    def url(self) -> str:
        return f"{self.hub.base}/user/{self.name}"

    def get(self, path: str, token: str | None = None):
        return requests.get(f"{self.url}{path}", timeout=60,
                            headers={"Authorization": f"token {token or self.token}"})

    def post(self, path: str, **kw):
        return requests.post(f"{self.url}{path}", timeout=60,
                             headers={"Authorization": f"token {self.token}"}, **kw)

    def start_server(self):
        r = self.hub.api("POST", f"/users/{self.name}/server")
        assert r.status_code in (201, 202), r.text

    def wait_ready(self, timeout: float = 150):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            info = self.hub.api("GET", f"/users/{self.name}").json()
            server = info.get("servers", {}).get("")
            if server and server.get("ready"):
                return server
            time.sleep(0.5)
        pytest.fail(f"{self.name}'s server did not start:\n" + (self.hub.state / "hub.log").read_text()[-3000:])

    def start_kernel(self, path: str = "work/00_start_here.ipynb"):
        r = self.post("/api/sessions", json={"path": path, "type": "notebook", "name": "",
                                             "kernel": {"name": "python3"}})
        assert r.status_code == 201, r.text
        self.kernel = r.json()["kernel"]["id"]
        self.connect()

    def connect(self):
        ws_url = self.url.replace("http://", "ws://") + f"/api/kernels/{self.kernel}/channels"
        self.ws = websocket.create_connection(ws_url, header=[f"Authorization: token {self.token}"],
                                              timeout=5)

    def run(self, code: str, timeout: float = 120) -> dict:
        """Execute one cell; {'ok', 'stdout', 'error', 'outputs', 'died'}."""
        msg_id = uuid.uuid4().hex
        msg = {"header": {"msg_id": msg_id, "username": self.name, "session": uuid.uuid4().hex,
                          "msg_type": "execute_request", "version": "5.3", "date": ""},
               "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
               "content": {"code": code, "silent": False, "store_history": True,
                           "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}}
        self.ws.send(json.dumps(msg))
        out = {"ok": None, "stdout": "", "error": None, "outputs": [], "died": False}
        idle = replied = False
        deadline = time.monotonic() + timeout
        while not (idle and replied):
            if time.monotonic() > deadline:
                out["timed_out"] = True
                break
            try:
                m = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                continue
            except (websocket.WebSocketConnectionClosedException, ConnectionError):
                out["died"] = True
                break
            if m.get("parent_header", {}).get("msg_id") != msg_id:
                if m.get("msg_type") == "status" and m["content"].get("execution_state") in ("restarting", "dead"):
                    out["died"] = True
                    break
                continue
            t, content = m["msg_type"], m["content"]
            if t == "stream":
                out["stdout"] += content["text"]
            elif t in ("execute_result", "display_data"):
                out["outputs"].append(content["data"].get("text/plain", ""))
            elif t == "error":
                out["error"] = f"{content['ename']}: {content['evalue']}"
            elif t == "status" and content["execution_state"] in ("restarting", "dead"):
                out["died"] = True
                break
            elif t == "status" and content["execution_state"] == "idle":
                idle = True
            elif t == "execute_reply":
                replied = True
                out["ok"] = content["status"] == "ok"
        return out

    def text(self, result: dict) -> str:
        return result["stdout"] + "\n".join(result["outputs"])


def _lesson_cells(learner: Learner) -> list[dict]:
    """The working copy's code cells up to the first `lab.run_c(` cell, read through the API."""
    r = learner.get("/api/contents/work/00_start_here.ipynb")
    assert r.status_code == 200, r.text
    cells = []
    for cell in r.json()["content"]["cells"]:
        if cell["cell_type"] != "code":
            continue
        cells.append(cell)
        if "lab.run_c(" in cell["source"]:
            return cells
    raise AssertionError("lesson 00 has no lab.run_c cell")


HOG = r"""%%cffi hog
#include <stdlib.h>
#include <string.h>
long eat(long mb) {                      /* touch mb MiB, one MiB at a time */
    long got = 0;
    for (long i = 0; i < mb; i++) {
        char *p = malloc(1 << 20);
        if (!p) break;
        memset(p, 1, 1 << 20);
        got++;
    }
    return got;
}
"""
BOOM = r"""%%cffi boom
void write_null(void) { int *volatile p = 0; *p = 42; }
"""


@pytest.fixture(scope="module")
def room(hub):
    learners = [Learner(hub, name) for name in USERS]
    for lr in learners:
        lr.start_server()
    for lr in learners:
        lr.wait_ready()
        lr.start_kernel()
    yield learners
    for lr in learners:
        if lr.ws is not None:
            lr.ws.close()


@needs_hub
def test_each_learner_runs_the_first_cells_of_lesson_00(room):
    results = {}

    def go(lr):
        done = []
        for cell in _lesson_cells(lr):
            r = lr.run(cell["source"], timeout=150)
            done.append((cell, r))
        results[lr.name] = done

    threads = [threading.Thread(target=go, args=(lr,)) for lr in room]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=400)
    for lr in room:
        done = results[lr.name]
        assert done, f"{lr.name} ran nothing"
        for cell, r in done:
            expected_error = "raises-exception" in cell.get("metadata", {}).get("tags", [])
            assert not r["died"] and not r.get("timed_out"), (lr.name, cell["source"][:80], r)
            assert r["ok"] or expected_error, (lr.name, cell["source"][:80], r)
        first = done[0][0]["source"]
        assert "import labsupport as lab" in first
        assert any(c["source"].lstrip().startswith("%%cffi") for c, _ in done)
        last = lr.text(done[-1][1])
        assert "SIGSEGV" in last and "about to write through NULL" in last, last


@needs_hub
def test_working_copies_are_each_learners_own(room, hub):
    ada, grace = room
    homes = {}
    for lr in room:
        r = lr.run("import os, labsupport as lab\n"
                   "print(os.environ['HOME']); print(os.getcwd()); print(lab.cache_dir())\n"
                   "print(os.environ.get('MEM_LIMIT')); print(os.environ.get('LABSUPPORT_ZIG_CACHE'))")
        assert r["ok"], r
        home, cwd, cache, mem_limit, zig = r["stdout"].split()
        assert cwd == str(Path(home) / "work")
        assert cache.startswith(home)                       # compiled modules: the learner's own
        assert mem_limit == str(2 * 1024**3)                # what the spawner passes (not enforced)
        # the first start copied the admin's prepared cache, all but zig's (shared in place)
        assert (Path(cache) / "prepared-by-admin.txt").exists()
        assert not (Path(cache) / "zig").exists()
        assert zig == str(hub.state / "prepared" / "zig")
        homes[lr.name] = Path(home)
        # lesson 01's cells name ../native_examples/... from work/: the hub links the course's
        assert (Path(home) / "native_examples" / "01_heap_managers" / "talloc.c").exists()
    assert homes["ada"] != homes["grace"]
    r = ada.run("open('ada_was_here.txt', 'w').write('mine')")
    assert r["ok"], r
    assert ada.get("/api/contents/work/ada_was_here.txt").status_code == 200
    assert grace.get("/api/contents/work/ada_was_here.txt").status_code == 404
    assert (homes["ada"] / "work" / "ada_was_here.txt").exists()
    assert not (homes["grace"] / "work" / "ada_was_here.txt").exists()
    # and the hub keeps each server to its owner: ada's token cannot open grace's files
    r = grace.get("/api/contents/work", token=ada.token)
    assert r.status_code in (403, 404), r.status_code
    # both copies are working copies: no stored outputs, solutions stubbed
    nb = ada.get("/api/contents/work/00_start_here.ipynb").json()["content"]
    assert "working-copy-note" in nb["cells"][0]["metadata"].get("tags", [])


@needs_hub
def test_a_memory_hungry_child_is_capped_while_the_other_learner_works(room):
    ada, grace = room
    assert ada.run(HOG)["ok"]
    out = {}

    def hungry():
        out["ada"] = ada.run("r = lab.run_c(hog, 'eat', 100000, max_rss_mb=300, timeout=60)\n"
                             "print(r.stopped_by); print(r)")

    t = threading.Thread(target=hungry)
    t.start()
    time.sleep(0.3)
    r = grace.run("print(c.add(40, 2)); r = lab.run_c(c, 'add', 1, 2); print(r.value)")
    t.join(timeout=90)
    assert r["ok"] and r["stdout"].split() == ["42", "3"], r
    assert out["ada"]["ok"], out["ada"]
    assert out["ada"]["stdout"].splitlines()[0] == "memory", out["ada"]
    assert "stopped by the memory cap" in out["ada"]["stdout"]
    # ada's kernel lives on, with its variables
    r = ada.run("print(hog.eat(1))")
    assert r["ok"] and r["stdout"].strip() == "1", r


@needs_hub
def test_a_direct_null_write_kills_only_that_learners_kernel(room, hub):
    ada, grace = room
    assert grace.run("x = 'still here'")["ok"]
    assert ada.run(BOOM)["ok"]
    r = ada.run("boom.lib.write_null()", timeout=60)
    assert r["died"] or r["ok"] is None, r              # the kernel died under the cell
    # the other learner's kernel kept its state, and ran on
    r = grace.run("print(x); print(c.add(1, 1))")
    assert r["ok"] and r["stdout"].split() == ["still", "here", "2"], r
    # ada's server is still up; her kernel was restarted by her server (state lost)
    assert hub.api("GET", "/users/ada").json()["servers"][""]["ready"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = ada.get(f"/api/kernels/{ada.kernel}")
        if state.status_code == 200 and state.json()["execution_state"] in ("idle", "starting"):
            break
        time.sleep(0.5)
    ada.ws.close()
    ada.connect()
    r = ada.run("print('boom' in dir())")
    assert r["ok"] and r["stdout"].strip() == "False", r
    r = ada.run("import labsupport as lab\nprint(lab.run_c(lab.build_c('int one(void){return 1;}'), 'one').value)")
    # the restarted kernel's first `import labsupport` may also say what killed its
    # predecessor (stderr, before or after the value)
    assert r["ok"] and "1" in r["stdout"].splitlines(), r
    # the course's last-word note: the new kernel tells ada what killed the old one
    assert "died of SIGSEGV" in r["stdout"], r


def test_beyond_one_machine_configs_parse():
    """The Kubernetes and Docker configurations were not run here (no cluster, no container
    engine): their syntax is checked, and that they use the course image's paths."""
    import ast

    import yaml
    values = yaml.safe_load((ROOT / "hub" / "z2jh-values.yaml").read_text())
    assert values["singleuser"]["memory"]["limit"] and values["singleuser"]["cpu"]["limit"]
    assert values["singleuser"]["cmd"].endswith("/.venv/bin/jupyterhub-singleuser")
    for name in ("jupyterhub_config.py", "dockerspawner_config.py"):
        ast.parse((ROOT / "hub" / name).read_text())


# --- Zero to JupyterHub: the values against the chart's own schema, the image, the sizing --

Z2JH = ROOT / "tests" / "fixtures" / "z2jh"      # chart 4.4.0's schema and defaults (README there)


def _coalesce(defaults: dict, values: dict) -> dict:
    """Helm's coalescing of a chart's values.yaml with the user's values: maps merged key by
    key, anything else (lists included) replaced, and a null value deletes the key."""
    import copy
    out = copy.deepcopy(defaults)
    for key, value in values.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _coalesce(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _z2jh():
    yaml = pytest.importorskip("yaml")
    values = yaml.safe_load((ROOT / "hub" / "z2jh-values.yaml").read_text())
    defaults = yaml.safe_load((Z2JH / "values.yaml").read_text())
    schema = yaml.safe_load((Z2JH / "values.schema.yaml").read_text())
    return values, defaults, schema


def _schema_errors(schema: dict, merged: dict) -> list[str]:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft7Validator(schema)
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
            for e in sorted(validator.iter_errors(merged), key=lambda e: list(e.absolute_path))]


def test_z2jh_values_pass_the_charts_own_schema():
    """As `helm install --values hub/z2jh-values.yaml` would check them: chart 4.4.0's defaults
    with our values on top, against the chart's values.schema.yaml (draft 7,
    additionalProperties false almost everywhere, so a misspelt or misplaced key fails)."""
    values, defaults, schema = _z2jh()
    assert _schema_errors(schema, _coalesce(defaults, values)) == []
    # the check has teeth: a misplaced key (the old values' extraContainerConfig) and a
    # wrong type are refused
    for bad in ({"singleuser": {"extraContainerConfig": {"securityContext": {}}}},
                {"singleuser": {"cpu": {"limit": "one"}}}):
        assert _schema_errors(schema, _coalesce(_coalesce(defaults, values), bad)), bad
    # hub.config is passed to JupyterHub as traitlets configuration, which the schema does
    # not look into: the sections JupyterHub itself defines load without an error here
    from jupyterhub.app import JupyterHub
    from jupyterhub.authenticators.shared import SharedPasswordAuthenticator
    from traitlets.config import Config
    config = Config(values["hub"]["config"])
    auth = SharedPasswordAuthenticator(config=config)          # its validators: password lengths
    assert auth.user_password and auth.admin_password and auth.admin_users == {"teacher"}
    assert set(config["JupyterHub"]) <= set(JupyterHub.class_trait_names())
    assert JupyterHub(config=config).authenticator_class is SharedPasswordAuthenticator


def test_z2jh_values_name_the_course_image_and_its_paths():
    values, _, _ = _z2jh()
    import tomllib
    user = values["singleuser"]
    dockerfile = (ROOT / "container" / "Dockerfile").read_text()
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    # the image container/Dockerfile builds (its own comment: -t memory-course), in a registry
    assert "-t memory-course " in dockerfile
    assert user["image"]["name"].rsplit("/", 1)[-1] == "memory-course"
    assert str(user["image"]["tag"]) == version
    # its user and folders: "learner", the first user useradd makes (uid 1000), the course
    # in WORKDIR with its .venv
    assert "useradd --create-home --shell /bin/bash learner" in dockerfile and "--uid" not in dockerfile
    assert user["uid"] == 1000 and user["fsGid"] == 1000
    assert "WORKDIR /home/learner/course" in dockerfile
    course = "/home/learner/course"
    assert user["cmd"] == f"{course}/.venv/bin/jupyterhub-singleuser"
    assert user["storage"]["homeMountPath"] == f"{course}/work"
    assert user["lifecycleHooks"]["postStart"]["exec"]["command"][:4] == [
        f"{course}/.venv/bin/python", "-m", "labsupport", "work"]
    kube = values["hub"]["config"]["KubeSpawner"]
    assert kube["notebook_dir"] == course
    assert "SYS_PTRACE" in kube["container_security_context"]["capabilities"]["add"]


def _bytes(spec) -> int:
    """A memory size as JupyterHub reads it (ByteSpecification: 2G = 2 GiB) and puts it in
    the server's MEM_LIMIT (jupyterhub/spawner.py, Spawner.get_env)."""
    from jupyterhub.traitlets import ByteSpecification
    from traitlets import HasTraits

    class _T(HasTraits):
        size = ByteSpecification()
    return _T(size=spec).size


def _sizing() -> tuple[float, list[tuple[int, float, int]]]:
    """hub/README.md's sizing: a learner's memory (GB) and the table's rows
    (learners, memory GiB (the lower figure of a range), cores)."""
    import re
    text = (ROOT / "hub" / "README.md").read_text()
    section = text[text.index("## Sizing"):]
    per_learner = float(re.search(r"heavy lessons \(04, 05, 08\) 2 x 280 \+ 75 = ~([\d.]+) GB",
                                  section).group(1))
    rows = [(int(n), float(mem), int(cores)) for n, mem, cores in re.findall(
        r"^\| (\d+) \| (\d+)(?:-\d+)? GiB [^|]*\| (\d+) \|", section, re.M)]
    assert len(rows) >= 3, rows
    return per_learner, rows


def test_z2jh_limits_match_the_sizing_table_and_the_course_cap_follows_them():
    """Per learner: the guarantee holds what a learner was measured to use, the room fits the
    sizing table's memory and cores with one learner in ten at the pod's limit, and the
    course's cap for a lab.run_c child (labsupport/isolate.py, from MEM_LIMIT) is half the
    pod's limit, so a runaway child is stopped by the course, with the learner's kernels and
    server still inside the pod, before Kubernetes kills the pod."""
    values, _, _ = _z2jh()
    per_learner_gb, rows = _sizing()
    mem, cpu = values["singleuser"]["memory"], values["singleuser"]["cpu"]
    guarantee, limit = _bytes(mem["guarantee"]), _bytes(mem["limit"])
    gib = 1 << 30
    assert guarantee >= per_learner_gb * 1e9, (guarantee, per_learner_gb)
    assert limit > guarantee
    assert cpu["limit"] >= 1 > cpu["guarantee"] > 0
    for learners, memory_gib, cores in rows:
        runaways = -(-learners // 10)                       # one learner in ten, rounded up
        need = learners * guarantee + runaways * (limit - guarantee) + 2 * gib
        assert need <= memory_gib * gib, (learners, need / gib, memory_gib)
        assert learners * cpu["guarantee"] <= cores, (learners, cores)
    # the course's cap in a server whose MEM_LIMIT is the pod's limit (what KubeSpawner sets)
    env = {k: v for k, v in os.environ.items() if k != "MEM_LIMIT"}
    env["MEM_LIMIT"] = str(limit)
    out = subprocess.run([sys.executable, "-c",
                          "import labsupport.isolate as i; print(i.DEFAULT_MAX_RSS_MB)"],
                         env=env, capture_output=True, text=True, check=True, cwd=ROOT)
    cap_mb = int(out.stdout)
    assert cap_mb <= limit // (1 << 20) // 2, cap_mb
    assert cap_mb * (1 << 20) + per_learner_gb * 1e9 < limit, cap_mb

"""JupyterHub for the memory course on one server (a room of learners).

    jupyterhub -f hub/jupyterhub_config.py          # from the course folder, after ./lab setup

Read hub/README.md first. Everything here is set from environment variables so
the same file serves tests/test_hub.py (two users, loopback, a throw-away
folder) and a small real hub:

  LABHUB_STATE     hub state (database, cookie secret, proxy token)  [/srv/memory-course-hub]
  LABHUB_HOMES     users' homes, one folder each ({username})       [$LABHUB_STATE/home]
  LABHUB_IP        address the hub listens on                        [127.0.0.1]
  LABHUB_PORT      port of the hub's public address (the proxy)      [8000]
  LABHUB_SPAWNER   "simple": one Unix user for everyone, each learner only gets a
                   home folder of their own (tests, a trusted room); "local": one
                   system user per learner (LocalProcessSpawner + PAM: the real
                   isolation; users must exist and be able to read the course
                   folder and its .venv); "systemd": like "local", plus per-user
                   memory/CPU limits enforced by systemd (pip install jupyterhub-systemdspawner)
                                                                     [simple]
  LABHUB_PASSWORD  set: DummyAuthenticator with this shared password (tests only).
                   unset: PAM (system accounts)
  LABHUB_USERS     comma-separated allowed users (unset: any user who can log in)
  LABHUB_ADMINS    comma-separated admin users
  LABHUB_MEM_LIMIT per-user memory limit, e.g. 2G                   [2G]
  LABHUB_CPU_LIMIT per-user CPU limit in cores, e.g. 1               [1]
  LABHUB_PREPARED_CACHE  a course cache prepared once by the admin (hub/README.md,
                   "Sharing the expensive parts"); copied into a new user's
                   ~/.cache/labsupport on their first start
  LABHUB_SHARED_ZIG_CACHE  one zig cache for everyone, at the path where it was prepared
                   ($LABHUB_PREPARED_CACHE/zig); zig locks its own cache

Which of the limits are enforced (JupyterHub's Spawner.mem_limit/cpu_limit docs:
"only some spawners support this"): LocalProcessSpawner and SimpleLocalProcessSpawner
do NOT enforce them (they only pass MEM_LIMIT / CPU_LIMIT to the server's
environment); SystemdSpawner, DockerSpawner and KubeSpawner do. What always
applies is the course's own cap on every isolated child (lab.run_c, run_python,
run_program: resident memory of the child's tree <= a quarter of RAM, at most
2 GiB; at most 64 processes).
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

c = get_config()  # noqa: F821 - provided by JupyterHub when it loads this file

COURSE = Path(__file__).resolve().parent.parent            # the course folder (this repository)
VENV_BIN = Path(sys.executable).parent                     # the .venv JupyterHub runs from
STATE = Path(os.environ.get("LABHUB_STATE", "/srv/memory-course-hub"))
HOMES = Path(os.environ.get("LABHUB_HOMES", str(STATE / "home")))
SPAWNER = os.environ.get("LABHUB_SPAWNER", "simple")
STATE.mkdir(parents=True, exist_ok=True)

# ---------------------------------------------------------------- network: loopback by default
c.JupyterHub.ip = os.environ.get("LABHUB_IP", "127.0.0.1")
c.JupyterHub.port = int(os.environ.get("LABHUB_PORT", "8000"))
c.JupyterHub.hub_ip = "127.0.0.1"
if os.environ.get("LABHUB_HUB_PORT"):
    c.JupyterHub.hub_port = int(os.environ["LABHUB_HUB_PORT"])
if os.environ.get("LABHUB_PROXY_API_PORT"):
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{os.environ['LABHUB_PROXY_API_PORT']}"
# the proxy from the course's package.json (npm ci in ./lab setup), not a global install
_chp = COURSE / "node_modules" / ".bin" / "configurable-http-proxy"
c.ConfigurableHTTPProxy.command = [str(_chp) if _chp.exists() else "configurable-http-proxy"]
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")
c.JupyterHub.cleanup_servers = True

# ---------------------------------------------------------------- who may log in
if os.environ.get("LABHUB_PASSWORD"):
    c.JupyterHub.authenticator_class = "dummy"             # tests only: one shared password
    c.DummyAuthenticator.password = os.environ["LABHUB_PASSWORD"]
else:
    c.JupyterHub.authenticator_class = "pam"
if os.environ.get("LABHUB_USERS"):
    c.Authenticator.allowed_users = set(os.environ["LABHUB_USERS"].split(","))
else:
    c.Authenticator.allow_all = True
c.Authenticator.admin_users = set(filter(None, os.environ.get("LABHUB_ADMINS", "").split(",")))

# ---------------------------------------------------------------- how a learner's server starts
if SPAWNER == "simple":
    c.JupyterHub.spawner_class = "simple"                  # SimpleLocalProcessSpawner
    c.SimpleLocalProcessSpawner.home_dir_template = str(HOMES / "{username}")
elif SPAWNER == "systemd":
    c.JupyterHub.spawner_class = "systemdspawner.SystemdSpawner"
    c.SystemdSpawner.unit_name_template = "memory-course-{USERNAME}"
    c.SystemdSpawner.isolate_tmp = True
    c.SystemdSpawner.disable_user_sudo = True
else:
    c.JupyterHub.spawner_class = "localprocess"            # one system user per learner

c.Spawner.cmd = [str(VENV_BIN / "jupyterhub-singleuser")]
if SPAWNER == "simple" and os.geteuid() == 0:
    c.Spawner.args = ["--allow-root"]                      # everyone is the hub's user: root here
c.Spawner.notebook_dir = "~"
c.Spawner.default_url = "/lab/tree/work/00_start_here.ipynb"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
c.Spawner.mem_limit = os.environ.get("LABHUB_MEM_LIMIT", "2G")
c.Spawner.cpu_limit = float(os.environ.get("LABHUB_CPU_LIMIT", "1"))
c.Spawner.environment = {
    "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
    "JUPYTER_PREFER_ENV_PATH": "1",
}
if os.environ.get("LABHUB_SHARED_ZIG_CACHE"):
    c.Spawner.environment["LABSUPPORT_ZIG_CACHE"] = os.environ["LABHUB_SHARED_ZIG_CACHE"]


def _home(spawner) -> Path:
    if SPAWNER == "simple":
        return Path(spawner.home_dir)
    import pwd
    return Path(pwd.getpwnam(spawner.user.name).pw_dir)


def _owned(path: Path, spawner) -> None:
    """Give what the hub made for a learner to that learner (real-users spawners)."""
    if SPAWNER == "simple" or os.geteuid() != 0:
        return
    import pwd
    pw = pwd.getpwnam(spawner.user.name)
    subprocess.run(["chown", "-R", f"{pw.pw_uid}:{pw.pw_gid}", str(path)], check=True)


def pre_spawn_hook(spawner):
    """Before a learner's server starts: their working copies (made once, never
    overwritten: `python -m labsupport work --dir ~/work`), and on a first start a
    copy of the admin's prepared course cache (compiled modules, Wine's prefix, zig)."""
    home = _home(spawner)
    home.mkdir(parents=True, exist_ok=True)
    work = home / "work"
    subprocess.run([str(VENV_BIN / "python"), "-m", "labsupport", "work", "--dir", str(work)],
                   check=True, capture_output=True, timeout=120, cwd=str(COURSE))
    _owned(work, spawner)
    # lesson cells name the course's C as ../native_examples/... (relative to work/, as in
    # the course folder): the same read-only files for everyone
    examples = home / "native_examples"
    if not examples.exists() and not examples.is_symlink():
        examples.symlink_to(COURSE / "native_examples")
    prepared = os.environ.get("LABHUB_PREPARED_CACHE")
    cache = home / ".cache" / "labsupport"
    if prepared and Path(prepared).is_dir() and not cache.exists():
        cache.parent.mkdir(parents=True, exist_ok=True)
        # a real copy, not hard links: Wine writes into its prefix (and refuses a prefix
        # owned by another user). zig's cache is not copied when it is shared: a copied zig
        # cache misses (measured: lesson 04 rebuilt zig's Windows C library from a copy)
        skip = ["warmup.log", "*.lock", "lastword"]
        if os.environ.get("LABHUB_SHARED_ZIG_CACHE"):
            skip.append("zig")
        shutil.copytree(prepared, cache, symlinks=True, ignore=shutil.ignore_patterns(*skip))
        _owned(cache.parent, spawner)


c.Spawner.pre_spawn_hook = pre_spawn_hook

# ---------------------------------------------------------------- extra settings for one site
_local = STATE / "jupyterhub_config_local.py"
if _local.exists():
    load_subconfig(str(_local))  # noqa: F821 - provided by JupyterHub

"""JupyterHub with DockerSpawner: one container per learner, on one Docker host (or, with
SwarmSpawner, several). NOT RUN: the project's machines have no container engine; this file
was only checked to parse as Python (tests/test_hub.py).

    pip install dockerspawner
    docker build -f container/Dockerfile -t memory-course .
    docker network create course-net
    jupyterhub -f hub/dockerspawner_config.py

The image (container/Dockerfile) holds the course, its .venv (with jupyterhub-singleuser)
and the course cache prepared once by ./lab setup (/home/learner/.cache/labsupport): every
container starts from that layer, so the prepared cache is shared for free and each learner
writes their own changes on top. DockerSpawner enforces mem_limit and cpu_limit (Docker's
cgroup limits), unlike LocalProcessSpawner (hub/README.md, "Limits").
"""
import os

c = get_config()  # noqa: F821 - provided by JupyterHub

c.JupyterHub.spawner_class = "dockerspawner.DockerSpawner"
c.JupyterHub.hub_ip = "0.0.0.0"                     # the containers reach the hub on course-net
c.JupyterHub.hub_connect_ip = os.environ.get("HUB_CONNECT_IP", "jupyterhub")
c.JupyterHub.authenticator_class = os.environ.get("HUB_AUTHENTICATOR", "dummy")
c.DummyAuthenticator.password = os.environ.get("HUB_PASSWORD", "change-me")
c.Authenticator.allow_all = True

c.DockerSpawner.image = os.environ.get("COURSE_IMAGE", "memory-course")
c.DockerSpawner.network_name = "course-net"
c.DockerSpawner.remove = True                       # a stopped server's container goes; its volume stays
c.DockerSpawner.cmd = ["/home/learner/course/.venv/bin/jupyterhub-singleuser"]
c.DockerSpawner.notebook_dir = "/home/learner/course"
c.DockerSpawner.default_url = "/lab/tree/work/00_start_here.ipynb"
# each learner's working copies on a named volume of their own
c.DockerSpawner.volumes = {"course-work-{username}": "/home/learner/course/work"}
c.DockerSpawner.post_start_cmd = ("/home/learner/course/.venv/bin/python -m labsupport work "
                                  "--dir /home/learner/course/work")
# per learner, enforced by Docker (figures: hub/README.md)
c.DockerSpawner.mem_limit = "2G"
c.DockerSpawner.cpu_limit = 1.0
c.DockerSpawner.extra_host_config = {
    "pids_limit": 512,                              # a fork bomb stays inside one container
    "cap_add": ["SYS_PTRACE"],                      # gdb and LeakSanitizer cells (lessons 00, 07)
}
c.Spawner.start_timeout = 300

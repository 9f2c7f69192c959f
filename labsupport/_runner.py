"""Entry point of isolated children: ``python -m labsupport._runner (--server FD [WORKDIR] | SPEC)``.

``--server FD [WORKDIR]`` runs the fork server on socket FD (removing WORKDIR, the kernel's
folder of call files, when the kernel is gone); ``SPEC`` runs one pickled call in
this fresh interpreter (used when the call needs start-up-time environment variables).
"""
import sys

from labsupport.isolate import _fresh_main, _server_main

__all__: list[str] = []      # an entry point, nothing to import

if __name__ == "__main__":
    if sys.argv[1] == "--server":
        _server_main(int(sys.argv[2]), *sys.argv[3:4])
    else:
        _fresh_main(sys.argv[1])

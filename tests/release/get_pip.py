"""Offline stand-in for ansible-test's pip bootstrap script (get-pip.py).

ansible-test makes each sanity test's virtualenv without pip, then runs a get-pip.py it
downloads from a host outside PyPI (ansible/ansible#77304), which CI cannot reach. It runs
a cached copy instead when ~/.ansible/test/cache/get_pip_<version>.py exists: `make sanity`
puts this file there. It is called as `python get_pip.py [pip options] pip==X.Y`, from
inside the new virtualenv; this does the same with the standard library's ensurepip and
then PyPI, which pip reaches as it does everywhere else in the build.
"""

import subprocess
import sys

# get-pip.py's own flags; pip install does not know them (nothing else is installed anyway).
OWN_FLAGS = {"--no-setuptools", "--no-wheel"}


def main() -> None:
    args = [arg for arg in sys.argv[1:] if arg not in OWN_FLAGS]
    subprocess.run([sys.executable, "-m", "ensurepip", "--default-pip"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", *args], check=True)


if __name__ == "__main__":
    main()

"""Stand-in for the get-pip.py that ansible-test downloads to bootstrap its venvs.

Its download host is not reachable from these machines, but PyPI is: put pip in
the new venv with ensurepip, then let that pip install what ansible-test asked for.
lab/setup-host.sh installs this file where ansible-test looks for its cached copy.
"""

import subprocess
import sys

# get-pip.py's own flags; the rest are pip install arguments.
OWN_FLAGS = {"--no-setuptools", "--no-wheel"}

subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
packages = [arg for arg in sys.argv[1:] if arg not in OWN_FLAGS]
subprocess.check_call([sys.executable, "-m", "pip", "install", "--upgrade", *packages])

#!/usr/bin/env bash
# ansible-test builds its sanity venvs with a get-pip script it downloads from a
# host this machine cannot reach. Put a stand-in in its cache that bootstraps pip
# with ensurepip and then installs the packages it was asked for from the index.
set -euo pipefail
python=${1:-python3}
version=$("$python" -c '
from ansible_test._internal.python_requirements import get_venv_packages
from ansible_test._internal.host_configs import NativePythonConfig
import sys
print(get_venv_packages(NativePythonConfig(version="%d.%d" % sys.version_info[:2], path=sys.executable))["pip"])')
# ansible-test runs pip with PIP_CONFIG_FILE=/dev/null and a bare environment,
# so pip's settings here (such as the CA bundle of a TLS-inspecting proxy) are
# lost: carry the CA bundle into the stand-in explicitly.
cert=${PIP_CERT:-$("$python" -m pip config get global.cert 2>/dev/null || true)}
cache=${HOME}/.ansible/test/cache
mkdir -p "$cache"
cat > "$cache/get_pip_${version//./_}.py" <<PY
import ensurepip
import subprocess
import sys

CERT = "${cert}"
ensurepip.bootstrap(upgrade=True)
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
if CERT:
    args = ["--cert", CERT] + args
if args:
    subprocess.check_call([sys.executable, "-m", "pip", "install"] + args)
PY

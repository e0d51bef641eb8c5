#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (written by
# `mnist-lab gradescope-zip`). It installs Python 3.10 or newer and, in a virtualenv, the
# mnist-lab kit from the wheel beside this script, with its dependencies (TensorFlow, ...).
# run_autograder then grades each submission with that virtualenv.
set -euo pipefail

ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
VENV="$ROOT/venv"

# Succeeds when the command $1 is Python 3.10 or newer.
is_recent_python() {
    command -v "$1" >/dev/null 2>&1 &&
        "$1" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null
}

find_python() {
    for candidate in python3.11 python3.12 python3.10 python3; do
        if is_recent_python "$candidate"; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

# Ubuntu 22.04 and later ship Python 3.10+; older images get 3.11 from the deadsnakes PPA.
install_python() {
    apt-get update
    if ! apt-get install -y python3.11 python3.11-venv; then
        apt-get install -y software-properties-common
        add-apt-repository -y ppa:deadsnakes/ppa
        apt-get update
        apt-get install -y python3.11 python3.11-venv
    fi
}

# Debian and Ubuntu keep venv's pip bootstrap in a package of its own (python3.X-venv).
make_venv() {
    if ! "$1" -m venv "$VENV"; then
        apt-get update
        apt-get install -y "$("$1" -c 'import sys; print("python%d.%d-venv" % sys.version_info[:2])')"
        "$1" -m venv --clear "$VENV"
    fi
}

PYTHON="$(find_python)" || { install_python && PYTHON=python3.11; }
echo "setup.sh: using $PYTHON ($("$PYTHON" --version))"
make_venv "$PYTHON"
"$VENV/bin/python" -m pip install "$SOURCE"/mnist_cnn_lab-*.whl
"$VENV/bin/mnist-lab" --version

# Students' kernels run as unprivileged users of their own (the grader runs as root): they
# must be able to read the virtualenv, and must not read the rubric and the grading scans.
chmod -R a+rX "$VENV"
chmod 700 "$SOURCE"

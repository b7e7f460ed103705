# Sourced by scripts/up and scripts/test: a virtualenv in ./.venv holding exactly the locked
# versions of one requirements file (requirements/*.txt, made by scripts/lock), then peakshop.
# PEP 668 refuses `pip install` into Debian's Python, and a lock keeps tomorrow's releases out.

peakshop_venv() {
  local lock="$1"
  local venv="${PEAKSHOP_VENV:-.venv}"
  if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    # Debian ships venv's bootstrap separately.
    if [ "$(id -u)" -ne 0 ]; then
      echo "$0: python3 cannot make a virtualenv: install python3-venv (sudo apt-get install -y python3-venv)" >&2
      exit 2
    fi
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
  fi
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  # Reinstall only when the lock changed since the last install into this virtualenv.
  local stamp="$venv/.peakshop-lock-$(basename "$lock")"
  if ! cmp -s "$lock" "$stamp" 2>/dev/null; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
      --require-hashes --no-deps -r "$lock"
    # The project itself has no hash to pin: its dependencies came from the lock above.
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
      --no-deps --no-build-isolation -e .
    cp "$lock" "$stamp"
  fi
  PEAKSHOP_PYTHON="$venv/bin/python"
  export PATH="$PWD/$venv/bin:$PATH"
}

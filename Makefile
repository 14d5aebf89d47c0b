# The two commands of the README: `make demo` brings everything up, `make test` runs the whole suite.
PYTHON ?= python3
export PYTHON

.PHONY: demo stop status test unit bench tools aiida

demo:
	bash devcluster/demo.sh start

stop:
	bash devcluster/demo.sh stop

status:
	bash devcluster/demo.sh status

test: demo tools aiida
	$(PYTHON) -m pytest -q

unit: tools
	$(PYTHON) -m pytest -q -m "not cluster"

# What the tests use beside the project's Python packages: shellcheck checks every script.
tools:
	@command -v shellcheck >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >/dev/null)

# The AiiDA client of tests/test_aiida_v2.py (aiida-core and the unmodified aiida-firecrest from PyPI), in a
# virtualenv of its own: aiida-core's pins must not move the project's (JupyterHub's) packages. pyfirecrest is
# the version pyproject.toml pins for the tests. The stamp holds the pins: the venv is built again (from
# scratch) when they change, or when its python cannot import aiida_firecrest any more. Like everything in
# .demo, it is root's alone.
AIIDA_VENV := .demo/aiida-venv
AIIDA_REQUIREMENTS := aiida-core==2.9.4 aiida-firecrest==1.0.0 \
	$(shell sed -n 's/^ *"\(pyfirecrest==[^"]*\)".*/\1/p' pyproject.toml)

aiida:
	@if [ "$$(cat $(AIIDA_VENV)/.stamp 2>/dev/null)" != "$(AIIDA_REQUIREMENTS)" ] || \
	    ! $(AIIDA_VENV)/bin/python -c 'import aiida_firecrest' 2>/dev/null; then \
	  echo "aiida: building $(AIIDA_VENV) ($(AIIDA_REQUIREMENTS))"; \
	  rm -rf $(AIIDA_VENV) && $(PYTHON) -m venv $(AIIDA_VENV) && chmod 700 $(AIIDA_VENV) && \
	  $(AIIDA_VENV)/bin/python -m pip install -q --disable-pip-version-check $(AIIDA_REQUIREMENTS) && \
	  printf '%s\n' "$(AIIDA_REQUIREMENTS)" > $(AIIDA_VENV)/.stamp; \
	fi

bench: demo
	command -v wrk >/dev/null || apt-get install -y wrk
	$(PYTHON) benchmarks/compute.py
	$(PYTHON) benchmarks/api.py
	$(PYTHON) benchmarks/staging.py
	$(PYTHON) benchmarks/spawner.py
	$(PYTHON) benchmarks/portal.py

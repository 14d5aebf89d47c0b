# The two commands of the README: `make demo` brings everything up, `make test` runs the whole suite.
PYTHON ?= python3
export PYTHON

.PHONY: demo stop status test unit bench tools

demo:
	bash devcluster/demo.sh start

stop:
	bash devcluster/demo.sh stop

status:
	bash devcluster/demo.sh status

test: demo tools
	$(PYTHON) -m pytest -q

unit: tools
	$(PYTHON) -m pytest -q -m "not cluster"

# What the tests use beside the project's Python packages: shellcheck checks every script.
tools:
	@command -v shellcheck >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >/dev/null)

bench: demo
	command -v wrk >/dev/null || apt-get install -y wrk
	$(PYTHON) benchmarks/compute.py
	$(PYTHON) benchmarks/api.py
	$(PYTHON) benchmarks/staging.py
	$(PYTHON) benchmarks/spawner.py

# The two commands of the README: `make demo` brings everything up, `make test` runs the whole suite.
PYTHON ?= python3
export PYTHON

.PHONY: demo stop status test unit bench

demo:
	bash devcluster/demo.sh start

stop:
	bash devcluster/demo.sh stop

status:
	bash devcluster/demo.sh status

test: demo
	$(PYTHON) -m pytest -q

unit:
	$(PYTHON) -m pytest -q -m "not cluster"

bench: demo
	command -v wrk >/dev/null || apt-get install -y wrk
	$(PYTHON) benchmarks/compute.py
	$(PYTHON) benchmarks/api.py
	$(PYTHON) benchmarks/staging.py
	$(PYTHON) benchmarks/spawner.py

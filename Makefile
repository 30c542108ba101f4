# bemi.postgresql: developer entry points. `make test` is what CI runs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PG_VERSIONS ?= 13,14,15,16,17,18
export PG_VERSIONS
# Two workers: the machine has two cores; with --dist loadgroup the tests of one module and one major
# stay on one worker, longest first (tests/integration/conftest.py).
PYTEST_WORKERS ?= 2
COLLECTION_COPY := .cache/ansible-test/ansible_collections/bemi/postgresql
# ansible-test keeps its venvs and its pip bootstrap under $HOME: keep ours in the tree.
TEST_HOME := $(CURDIR)/.cache/home

.PHONY: help demo venv pg test lint docs docs-lint ee-check sanity units integration molecule matrix build-check bench clean

help:
	@echo "make demo          a throwaway PostgreSQL: dry run, rollout, readiness report, a decoded change"
	@echo "                   (PORT=55432 picks its port; it installs only ansible-core and psycopg2)"
	@echo "make test          lint, sanity, unit, integration (PostgreSQL $(PG_VERSIONS)), Molecule and the support matrix;"
	@echo "                   ends with a table of each stage's time and counts (STAGES=\"lint units\" narrows)"
	@echo "make integration   only the integration tests (PG_VERSIONS=15,18 narrows the matrix)"
	@echo "make molecule      the role's Molecule scenarios (default check absent fleet faults debian pertable failover patroni),"
	@echo "                   three at a time (MOLECULE_JOBS); scripts/molecule.sh default runs one"
	@echo "make matrix        sanity, units, module and role smoke on ansible-core 2.16-2.21 (noxfile.py; SESSIONS=... narrows)"
	@echo "make docs          regenerate docs/reference from the code"
	@echo "make lint | docs-lint | sanity | units | build-check | ee-check"
	@echo "make bench         benchmarks of the replica identity module and trigger, and of the tracking role"
	@echo "                   against ansible -m ping (not part of make test; BENCHES=role runs one)"

$(BIN)/ansible: requirements-dev.txt requirements-demo.txt requirements-psycopg3.txt requirements-patroni.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	# A second Python with psycopg 3 and no psycopg2, for the second-driver tests.
	$(PYTHON) -m venv .cache/venv-psycopg3
	.cache/venv-psycopg3/bin/pip install --quiet -r requirements-psycopg3.txt
	# Patroni, etcd and PostgreSQL 18 tools for the patroni scenario. Patroni runs as the postgres OS
	# user, so its venv is built on the system Python, which that user can execute.
	/usr/bin/python3 -m venv .cache/venv-patroni
	.cache/venv-patroni/bin/pip install --quiet -r requirements-patroni.txt
	touch $@

venv: $(BIN)/ansible

# The demo installs only what it runs (requirements-demo.txt: ansible-core and psycopg2) into its own
# venv, not the test toolchain of .venv. It checks PORT (and that a PostgreSQL can be had) before that.
# Debian's PostgreSQL 15 when it is installed, else the embedded build of 18.
DEMO_VENV := .cache/venv-demo
PORT ?=
$(DEMO_VENV)/bin/ansible: requirements-demo.txt
	$(PYTHON) -m venv $(DEMO_VENV)
	$(DEMO_VENV)/bin/pip install --quiet -r requirements-demo.txt
	touch $@

demo:
	@$(PYTHON) scripts/demo.py --preflight $(if $(PORT),--port $(PORT))
	@$(MAKE) --no-print-directory $(DEMO_VENV)/bin/ansible
	$(DEMO_VENV)/bin/python scripts/pgserver.py install $(if $(wildcard /usr/lib/postgresql/15/bin/postgres),15,18) >/dev/null
	$(DEMO_VENV)/bin/python scripts/demo.py $(if $(PORT),--port $(PORT))

pg: venv
	$(BIN)/python scripts/pgserver.py install $(PG_VERSIONS)

# Every stage runs, even after one failed; the end of the log repeats what failed, the slowest
# tests, and a table of each stage's wall time and counts (scripts/test.py). STAGES=... narrows.
STAGES ?=
test: venv pg
	$(BIN)/python scripts/test.py $(STAGES)

lint: venv
	ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/.cache/collections scripts/link-collection.sh
	PATH=$(CURDIR)/$(BIN):$$PATH ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/.cache/collections \
	  $(BIN)/ansible-lint --profile production --offline

# ansible-test wants the collection at .../ansible_collections/bemi/postgresql,
# as real files tracked by git: copy the tracked tree there.
$(COLLECTION_COPY): FORCE
	scripts/copy-collection.sh $(COLLECTION_COPY)
FORCE:

# SANITY_SKIP="pylint pep8": sanity tests to leave out (make test leaves out the linters that
# the matrix's newest core runs: scripts/test.py).
SANITY_SKIP ?=
sanity: venv $(COLLECTION_COPY)
	HOME=$(TEST_HOME) scripts/offline-get-pip.sh $(BIN)/python
	cd $(COLLECTION_COPY) && HOME=$(TEST_HOME) PATH=$(CURDIR)/$(BIN):$$PATH \
	  $(CURDIR)/$(BIN)/ansible-test sanity --local --python 3.11 --color no $(foreach test,$(SANITY_SKIP),--skip-test $(test))

# docs/reference is generated from the code; docs-lint fails when it is stale.
docs: venv
	scripts/docs.sh

docs-lint: venv $(COLLECTION_COPY)
	cd $(COLLECTION_COPY) && PATH=$(CURDIR)/$(BIN):$$PATH \
	  $(CURDIR)/$(BIN)/antsibull-docs lint-collection-docs --plugin-docs .
	scripts/docs.sh --check
	$(BIN)/python scripts/compatibility.py --check
	$(BIN)/python scripts/monitoring.py --check
	$(BIN)/python scripts/check-doc-links.py
	cd $(COLLECTION_COPY) && $(CURDIR)/$(BIN)/antsibull-changelog lint

# The execution environment definition (AWX / AAP) builds a context with our requirements.
ee-check: venv
	scripts/ee-check.sh

units: venv $(COLLECTION_COPY)
	cd $(COLLECTION_COPY) && HOME=$(TEST_HOME) PATH=$(CURDIR)/$(BIN):$$PATH \
	  $(CURDIR)/$(BIN)/ansible-test units --local --python 3.11 --color no

integration: pg
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup --durations=20 tests/integration

# Fleet scenarios of the tracking role: each host is a PostgreSQL server on this machine.
# Three scenarios at a time (MOLECULE_JOBS=1: one), each on its own ports and directories.
molecule: pg
	scripts/molecule.sh

# The support matrix (noxfile.py): every ansible-core minor the collection claims, each
# on a controller Python from pyenv, two sessions at a time; venvs cached in .cache/matrix.
# Prints a table session -> passed / skipped (why) / FAILED; fails when one failed.
SESSIONS ?=
matrix: venv pg
	$(BIN)/python scripts/matrix.py $(SESSIONS)

build-check: venv
	scripts/build-check.sh

# BENCHES=role (or identity) runs one of the two; each takes its knobs from the environment.
BENCHES ?= identity role
bench: pg
	$(if $(filter identity,$(BENCHES)),bench/run.sh)
	$(if $(filter role,$(BENCHES)),$(BIN)/python bench/role.py)

clean:
	rm -rf .cache/ansible-test .cache/collections tests/output *.tar.gz

# Transmute: `make run` starts the platform locally, `make test` runs every test.
SHELL := /bin/bash
UV_VERSION := 0.9.30
UV ?= $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
# Tests call uv by this path, never by whatever is on PATH.
export UV
PY := .venv/bin/python
BIN_DIR ?= $(HOME)/.cache/transmute/bin
export PATH := $(BIN_DIR):$(PATH)
# Package downloads trust the machine's certificate store (which may hold a proxy's CA).
CA_BUNDLE := $(firstword $(wildcard /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt))
export UV_NATIVE_TLS := 1
PIP_TLS := $(if $(CA_BUNDLE),--cert $(CA_BUNDLE))

.PHONY: help install test-tools web servers proto proto-check lint test test-fast run bench clean images chart-lint chart-test

help:
	@echo "make run     - start the whole mesh locally (gateway on http://127.0.0.1:8080)"
	@echo "make test    - install everything, check stubs and lint, run all tests"
	@echo "make bench   - benchmarks against the bare engines (slow)"
	@echo "make web     - build the web app (web/ -> web/dist, served by the gateway at /)"
	@echo "make proto   - regenerate gRPC stubs from proto/"
	@echo "make images  - build one container image per service (needs a Docker engine)"
	@echo "make chart-test - lint and render the Helm charts with a real helm"

$(UV):
	python3 -m pip install $(PIP_TLS) --quiet --user "uv==$(UV_VERSION)" || \
	  python3 -m pip install $(PIP_TLS) --quiet --break-system-packages --user "uv==$(UV_VERSION)"

# Python environment from the lock file (uv's cache lives outside the repo), and the
# Debian packages engines need (Ghostscript, ...) when missing.
install: | $(UV)
	@$(UV) sync --frozen --quiet
	@./scripts/install-system-packages.sh

# Debian packages only the tests use (Chromium for the web app's browser tests).
test-tools:
	@./scripts/install-system-packages.sh tests/system-packages.txt

# The web app (web/ -> web/dist), rebuilt with npm when its sources change.
web:
	@./scripts/build-web.sh

# MinIO, FerretDB and helm, built once with Go into $(BIN_DIR).
servers:
	@TRANSMUTE_BIN_DIR=$(BIN_DIR) ./scripts/install-servers.sh

proto: install
	./scripts/gen_proto.sh

proto-check: proto
	@git diff --exit-code -- services/common/transmute || \
	  (echo "generated stubs are stale: run 'make proto' and commit" && exit 1)

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy gateway services clients scripts

test: install servers test-tools web proto-check lint
	$(PY) -m pytest -q -rs

test-fast: install
	$(PY) -m pytest -q -m "not e2e" tests/unit

run: install web
	$(PY) scripts/mesh.py

bench: install servers test-tools web
	$(PY) -m bench

SERVICES := gateway $(filter-out common,$(notdir $(patsubst %/pyproject.toml,%,$(wildcard services/*/pyproject.toml))))
IMAGE_TAG ?= dev

images:
	@command -v docker >/dev/null && docker info >/dev/null 2>&1 || \
	  (echo "make images needs a running Docker engine" && exit 1)
	@for s in $(SERVICES); do \
	  docker build --build-arg SERVICE=$$s -t transmute-$$s:$(IMAGE_TAG) . || exit 1; done

chart-lint: servers
	$(BIN_DIR)/helm lint --strict charts/transmute
	$(BIN_DIR)/helm lint --strict charts/transmute -f charts/transmute/ci/external-values.yaml

chart-test: install servers chart-lint
	$(PY) -m pytest -q tests/delivery

clean:
	rm -rf .transmute .pytest_cache .mypy_cache .ruff_cache web/dist web/node_modules

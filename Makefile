# The two commands the README gives. Each sets up what is missing (idempotently), then does its job.
SHELL := /bin/bash
export AWSOME_CACHE ?= /var/cache/awsome-ml-cluster

.PHONY: demo test bootstrap lint clean

## make demo: bring up the local cluster of containers and converge it.
demo: bootstrap
	tests/testbed/demo.sh

## make test: lint, unit tests, then every molecule scenario and integration test.
test: bootstrap
	tests/testbed/run-tests.sh

bootstrap:
	tests/testbed/bootstrap.sh all

lint:
	.venv/bin/pytest -q tests/test_lint.py

## make clean: remove the local cluster and stop serving the mirror (caches stay).
clean:
	tests/testbed/cluster.sh down
	tests/testbed/mirror.sh stop

#!/usr/bin/env bash
# Regenerates the Python stubs in services/common/transmute/ from proto/.
set -euo pipefail
cd "$(dirname "$0")/.."
out=services/common
find "$out/transmute" -name '*_pb2*.py*' -delete
protos=$(cd proto && find transmute -name '*.proto' | sort)
(cd proto && ../.venv/bin/python -m grpc_tools.protoc -I. --python_out="../$out" --pyi_out="../$out" --grpc_python_out="../$out" $protos)
for d in $(cd proto && find transmute -type d); do touch "$out/$d/__init__.py"; done

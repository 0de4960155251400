"""Shared library of every Transmute service: settings, logging, tracing, bus, storage,
the job model and the converter runtime. Generated gRPC stubs live in ``transmute.*``."""

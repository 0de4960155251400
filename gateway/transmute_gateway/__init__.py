"""Transmute gateway: the public REST and gRPC APIs."""

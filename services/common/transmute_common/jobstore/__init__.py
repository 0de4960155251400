"""Job persistence behind one interface: SQLite (embedded default) and MongoDB."""

from transmute_common.jobstore.base import JobStore, open_job_store

__all__ = ["JobStore", "open_job_store"]

"""Object storage behind one interface: a directory (embedded default) and S3/MinIO."""

from transmute_common.objectstore.base import ObjectInfo, ObjectStore, open_object_store

__all__ = ["ObjectInfo", "ObjectStore", "open_object_store"]

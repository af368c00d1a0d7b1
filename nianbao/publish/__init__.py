"""Publish: frames with lineage, pandera validation and the atomic Parquet publish, locally or to an object store."""

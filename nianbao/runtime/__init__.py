"""Running reports: ingest one input, parse it in an isolated child, and work through a chunk of reports,
staging its rows as Parquet for the publish. Pure core (no Prefect): the tasks wrap these calls."""

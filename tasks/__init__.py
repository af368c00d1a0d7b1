"""Prefect tasks: thin wrappers that call the pure core (``nianbao``), log and attach metadata."""

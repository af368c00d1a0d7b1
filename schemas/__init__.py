"""The contracts of every published dataset: column specs (``schemas.columns``) and one pandera
``DataFrameModel`` per dataset generated from them (``schemas.models``).

The publish step validates each frame with ``pandera_schema(name)`` (= ``MODELS[name].to_schema()``) before it
writes; the writer's Arrow types come from ``polars_schema(name)``; docs/data-model.md is generated from the
same specs (tools/gen_data_model.py).
"""

from __future__ import annotations

from schemas.columns import (
    DATASET_NAMES,
    DATASETS,
    DERIVATIONS,
    LINEAGE,
    SEVERITIES,
    STATUSES,
    UNIQUE,
    VALUE_DTYPE,
    VALUE_KINDS,
    ColumnSpec,
    polars_schema,
)
from schemas.models import (
    MODELS,
    Applications,
    ProactiveDisclosure,
    Reports,
    ReviewsLitigation,
    Sections,
    ValidationIssues,
    dataframe_model,
    pandera_schema,
)

__all__ = [
    "DATASETS",
    "DATASET_NAMES",
    "DERIVATIONS",
    "LINEAGE",
    "MODELS",
    "SEVERITIES",
    "STATUSES",
    "UNIQUE",
    "VALUE_DTYPE",
    "VALUE_KINDS",
    "Applications",
    "ColumnSpec",
    "ProactiveDisclosure",
    "Reports",
    "ReviewsLitigation",
    "Sections",
    "ValidationIssues",
    "dataframe_model",
    "pandera_schema",
    "polars_schema",
]

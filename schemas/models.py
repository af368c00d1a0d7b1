"""One pandera (polars) ``DataFrameModel`` per published dataset, generated from the column specs.

The models are made from ``schemas.columns`` (whose cell tables take their allowed keys from the template),
never written out by hand: a column added to a spec is in the writer's schema, the model and the data
dictionary at once. The publish step validates every frame with ``pandera_schema(name)`` before anything is
written; ``MODELS[name].validate(df)`` is the same check.
"""

from __future__ import annotations

from typing import Annotated, Any

import pandera.polars as pap
import polars as pl

from schemas.columns import DATASET_NAMES, DATASETS, UNIQUE, ColumnSpec


def _annotation(dtype: Any) -> Any:
    """The model annotation of a column's polars dtype: the class itself, or ``Annotated`` with its parameters
    for a parametrised one (a Decimal's precision and scale)."""
    if isinstance(dtype, pl.Decimal):
        return Annotated[pl.Decimal, dtype.precision, dtype.scale]
    if isinstance(dtype, type) and issubclass(dtype, pl.DataType):
        return dtype
    raise TypeError(f"no DataFrameModel annotation for the column dtype {dtype!r}: add it to schemas.models")


def _field(spec: ColumnSpec) -> Any:
    return pap.Field(nullable=spec.nullable, isin=list(spec.isin) if spec.isin else None,
                     description=spec.description)


def class_name(dataset: str) -> str:
    """Given a dataset name, return its model's class name (``proactive_disclosure`` -> ``ProactiveDisclosure``)."""
    return "".join(part.title() for part in dataset.split("_"))


def dataframe_model(dataset: str) -> type[pap.DataFrameModel]:
    """Given a dataset name, return a new ``DataFrameModel`` with one field per column spec (dtype, nullable,
    allowed values), strict (no other column), and the dataset's row identity as ``unique``."""
    specs = DATASETS[dataset]
    config = type("Config", (), {"name": dataset, "strict": True,
                                 "unique": list(UNIQUE[dataset]) if dataset in UNIQUE else None})
    namespace: dict[str, Any] = {
        "__module__": __name__,
        "__doc__": f"The published ``{dataset}`` dataset (generated from schemas.columns.DATASETS).",
        "__annotations__": {c.name: _annotation(c.dtype) for c in specs},
        "Config": config,
        **{c.name: _field(c) for c in specs},
    }
    return type(class_name(dataset), (pap.DataFrameModel,), namespace)


MODELS: dict[str, type[pap.DataFrameModel]] = {name: dataframe_model(name) for name in DATASET_NAMES}

# The models by name, for readers of the code and for imports (``from schemas import Applications``).
Reports = MODELS["reports"]
Sections = MODELS["sections"]
ProactiveDisclosure = MODELS["proactive_disclosure"]
Applications = MODELS["applications"]
ReviewsLitigation = MODELS["reviews_litigation"]
ValidationIssues = MODELS["validation_issues"]


def pandera_schema(dataset: str) -> pap.DataFrameSchema:
    """Given a dataset name, return the pandera schema of its model (what the publish step validates with)."""
    return MODELS[dataset].to_schema()

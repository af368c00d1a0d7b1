"""The pandera models of schemas/: one per published dataset, generated from the column specs; a good row
passes each, and every kind of broken row fails it (what the publish step relies on to refuse bad data)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pandera.errors
import pandera.polars as pap
import polars as pl
import pytest

from schemas import DATASET_NAMES, DATASETS, MODELS, UNIQUE, ColumnSpec, pandera_schema, polars_schema

SAMPLE = {pl.String: "x", pl.Int32: 1, pl.Int64: 1, pl.Float64: 1.0, pl.Date: dt.date(2023, 1, 31)}
FAILS = (pandera.errors.SchemaError, pandera.errors.SchemaErrors)


def _good(spec: ColumnSpec) -> Any:
    if spec.isin:
        return spec.isin[0]
    return Decimal("1.5") if isinstance(spec.dtype, pl.Decimal) else SAMPLE[spec.dtype]


def _frame(dataset: str, **override: Any) -> pl.DataFrame:
    row = {c.name: override.get(c.name, _good(c)) for c in DATASETS[dataset]}
    return pl.DataFrame([row], schema=polars_schema(dataset), orient="row")


def test_one_model_per_published_dataset() -> None:
    assert list(MODELS) == list(DATASET_NAMES)
    for name, model in MODELS.items():
        assert issubclass(model, pap.DataFrameModel)
        schema = pandera_schema(name)
        assert schema.name == name and schema.strict is True
        assert list(schema.columns) == [c.name for c in DATASETS[name]]  # the published columns, in order


@pytest.mark.parametrize("dataset", DATASET_NAMES)
def test_a_good_row_passes_and_every_broken_row_fails(dataset: str) -> None:
    model = MODELS[dataset]
    good = _frame(dataset)
    model.validate(good, lazy=True)
    pandera_schema(dataset).validate(good, lazy=True)

    broken: dict[str, pl.DataFrame] = {}
    for c in DATASETS[dataset]:
        if not c.nullable:
            broken[f"null {c.name}"] = good.with_columns(pl.lit(None, dtype=c.dtype).alias(c.name))
        if c.isin:
            broken[f"{c.name} outside its allowed values"] = _frame(dataset, **{c.name: "not-a-template-key"})
        other = pl.Int64 if c.dtype == pl.String else pl.String
        broken[f"{c.name} of the wrong type"] = good.with_columns(pl.lit(None, dtype=other).alias(c.name))
        broken[f"{c.name} missing"] = good.drop(c.name)
    broken["an extra column"] = good.with_columns(pl.lit("x").alias("unexpected"))
    if dataset in UNIQUE:
        broken[f"two rows with the same {UNIQUE[dataset]}"] = pl.concat([good, good])
    assert len(broken) > len(DATASETS[dataset])
    passed = []
    for why, frame in broken.items():
        try:
            model.validate(frame)  # fails at the first error (the publish step collects them all: lazy)
        except FAILS:
            continue
        passed.append(why)
    assert passed == [], f"{dataset}: broken rows that the model accepted: {passed}"


def test_validation_issues_may_repeat_a_row() -> None:
    """A report may be flagged twice the same way (two pages): validation_issues has no row identity."""
    good = _frame("validation_issues")
    MODELS["validation_issues"].validate(pl.concat([good, good]), lazy=True)

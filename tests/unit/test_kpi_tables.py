"""The report's own declaration of the columns it reads (storage/kpi_queries.py, kept free
of SQLModel for start-up) must match the tables the models and migrations create.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import TableClause
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers the tables in SQLModel.metadata)
from storage import kpi_queries
from storage.types import UTCDateTime
from tests.conftest import ROOT


@pytest.mark.parametrize(
    "declared", [kpi_queries.REQUESTS, kpi_queries.ESCALATIONS, kpi_queries.BOOKINGS]
)
def test_declared_columns_exist_with_the_same_types(declared: TableClause) -> None:
    model = SQLModel.metadata.tables[declared.name]
    for column in declared.c:
        assert column.name in model.c, f"{declared.name}.{column.name} is not in the model"
        if isinstance(column.type, UTCDateTime):
            assert isinstance(model.c[column.name].type, UTCDateTime), column.name


def test_the_report_path_does_not_import_sqlmodel() -> None:
    code = (
        "import sys, bot.cli, bot.reports.kpis, bot.reports.report, storage.db, "
        "storage.kpi_queries; "
        "print(sorted(m for m in sys.modules if m.startswith(('sqlmodel', 'storage.models'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"

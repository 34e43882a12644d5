"""The encrypted-field inventory: every column of every table is declared sealed, or declared safe with a reason.

storage/models.py keeps both lists: ``SEALED_COLUMNS`` (of type ``Sealed``, an AES-GCM blob) and
``PLAINTEXT_COLUMNS`` (why each other column may be read without a key). A column in neither list -- one
nobody thought about -- fails here, and so does a list that no longer matches the models. The schema Alembic's
head creates is checked too (tests/test_migrations.py compares it with the models type by type).
"""

from __future__ import annotations

from sqlalchemy import Column, inspect
from sqlalchemy.engine import Connection

from storage.db import Database
from storage.models import PLAINTEXT_COLUMNS, SEALED_COLUMNS, Base, Sealed

HOW_TO_DECLARE = (
    "declare every column in storage/models.py: in SEALED_COLUMNS (and of type Sealed) if it holds anything a "
    "person said or a way to reach them, else in PLAINTEXT_COLUMNS with the reason it may be read without a key"
)


def _model_columns() -> dict[tuple[str, str], Column[object]]:
    return {(table.name, column.name): column for table in Base.metadata.tables.values() for column in table.columns}


def test_every_column_is_declared_sealed_or_safe_with_a_reason() -> None:
    undeclared = sorted(set(_model_columns()) - SEALED_COLUMNS - set(PLAINTEXT_COLUMNS))
    assert undeclared == [], HOW_TO_DECLARE


def test_a_column_is_sealed_exactly_when_it_is_declared_sealed() -> None:
    columns = _model_columns()
    of_sealed_type = {name for name, column in columns.items() if isinstance(column.type, Sealed)}
    assert sorted(of_sealed_type - SEALED_COLUMNS) == [], "Sealed, but missing from SEALED_COLUMNS"
    assert sorted(SEALED_COLUMNS - set(columns)) == [], "in SEALED_COLUMNS, but no such column"
    assert sorted(SEALED_COLUMNS & set(columns) - of_sealed_type) == [], "in SEALED_COLUMNS, but not of type Sealed"


def test_every_plaintext_column_exists_is_not_sealed_and_says_why_in_one_line() -> None:
    columns = _model_columns()
    assert sorted(set(PLAINTEXT_COLUMNS) - set(columns)) == [], "in PLAINTEXT_COLUMNS, but no such column"
    assert sorted(set(PLAINTEXT_COLUMNS) & SEALED_COLUMNS) == [], "declared both sealed and plaintext"
    unexplained = [name for name, reason in PLAINTEXT_COLUMNS.items() if not reason.strip() or "\n" in reason]
    assert unexplained == [], "a plaintext column needs its reason, in one line"


def _head_columns(connection: Connection) -> set[tuple[str, str]]:
    schema = inspect(connection)
    return {
        (table, column["name"])
        for table in schema.get_table_names()
        if table != "alembic_version"
        for column in schema.get_columns(table)
    }


async def test_the_migrated_schema_holds_only_declared_columns(db: Database) -> None:
    async with db.engine.connect() as connection:
        head = await connection.run_sync(_head_columns)
    assert sorted(head - SEALED_COLUMNS - set(PLAINTEXT_COLUMNS)) == [], HOW_TO_DECLARE

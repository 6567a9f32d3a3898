"""Fixtures the flow tests share."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

PG_URL = os.environ.get("CASEY_FLOWS_TEST_PG_URL")


@pytest.fixture(scope="module")
def postgres() -> Iterator[tuple[str, str]]:
    """(SQLAlchemy URL, schema): a schema of our own in the e2e database (the script recreates
    that database; the e2e test uses its public schema), dropped after the module."""
    if not PG_URL:
        if os.environ.get("CI") == "true":
            pytest.fail(
                "CASEY_FLOWS_TEST_PG_URL is not set: .ci/run sources "
                "tests/deployments/start_postgres.sh before the tests"
            )
        pytest.skip("CASEY_FLOWS_TEST_PG_URL not set (source tests/deployments/start_postgres.sh)")
    import psycopg2

    url = PG_URL.replace("+asyncpg", "")
    schema = f"casey_sql_{os.getpid()}"
    with psycopg2.connect(url) as db, db.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")
    try:
        yield url.replace("postgresql://", "postgresql+psycopg2://"), schema
    finally:
        with psycopg2.connect(url) as db, db.cursor() as cursor:
            cursor.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")

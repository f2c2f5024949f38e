"""bench/scale_queries.py: the statements timed on a seeded file, with seeded values as parameters."""
from __future__ import annotations

import re

import pytest

from bench import seed_sql
from bench.scale_queries import QUERIES, query_params


@pytest.mark.parametrize("key, pattern", [
    ("openid", r"dev-openid-benchuser\d+"),
    ("id", r"u\d{14}"),
    ("company_id", r"CMP-\d+-b\d{5}"),
])
def test_parameters_are_seeded_values(key, pattern):
    (value,) = query_params(key, seed_sql.Shape(100))
    assert re.fullmatch(pattern, value)


def test_counts_take_no_parameter_and_every_other_statement_one():
    assert query_params(None, seed_sql.Shape(100)) == ()
    assert all(sql.count("?") == (1 if key else 0) for _, sql, key in QUERIES)

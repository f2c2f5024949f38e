"""Each bench path once at a tiny size, so that a broken path fails here and not for the next person who
measures: `make bench` (every scenario), `make bench-scale` (several sizes, interleaved rounds, the cost
curve) and the A/B of `make profile`. Figures are not judged here (a shared machine); only that every cell
ran and answered 2xx."""
from __future__ import annotations

import shutil

import pytest

from bench import ab, run, seed
from bench.scenarios import BY_NAME, SCENARIOS

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not shutil.which("wrk"), reason="wrk is not installed: make test installs it (make wrk)")]


def test_document_types_are_one_or_two_dict_pairs_as_the_spec_stores_them():
    assert seed.document_type(1) == f"{seed.dict_id(1)}@UT2"
    assert seed.document_type(3) == f"{seed.dict_id(3)}@UT4|{seed.dict_id(4)}@UT1"
    assert len({seed.dict_id(k) for k in range(seed.N_DICTS)}) == seed.N_DICTS


def test_make_bench_runs_every_scenario(tmp_path):
    out = tmp_path / "results.md"
    assert run.main(["--sizes", "300", "--conns", "2", "--duration", "1", "--output", str(out)]) == 0
    report = out.read_text()
    for scenario in SCENARIOS:
        assert f"| {scenario.label}" in report
    assert "**PASS** no errors anywhere" in report
    assert "## The feed's burst" in report


def test_make_bench_scale_runs_to_the_end(tmp_path):
    out = tmp_path / "scale.md"
    only = "upload,native_upload_nginx,feed_type_direct,login_new"
    assert run.main(["--scale", "--sizes", "200,400", "--rounds", "2", "--duration", "1", "--conns", "2",
                     "--only", only, "--output", str(out)]) == 0
    report = out.read_text()
    curve = report.split("## Cost curve: 400 users against 200", 1)[1].split("##", 1)[0]
    for name in only.split(","):
        assert f"| {BY_NAME[name].label} |" in curve
    assert "**PASS** no errors anywhere" in report


def test_an_ab_of_two_refs_runs(capsys):
    assert ab.main(["A=HEAD", "B=.", "--rounds", "1", "--seconds", "1", "--users", "100"]) == 0
    table = capsys.readouterr().out.split("A/B of users_count", 1)[1]
    assert "| A |" in table and "| B |" in table

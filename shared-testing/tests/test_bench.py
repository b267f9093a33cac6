import pytest

from shared_testing import bench


def test_readme_rows_are_printed_and_collected_under_their_header_once(tmp_path, monkeypatch, capsys):
    target = tmp_path / "tables.md"
    monkeypatch.setenv("BENCH_README_TABLE", str(target))
    monkeypatch.setattr(bench, "_printed_headers", set())
    bench.readme_row(("Benchmark", "Result"), ["a", "1.00×"])
    bench.readme_row(("Benchmark", "Result"), ["b", "2.00×"])
    bench.readme_row(("", "ratio"), ["c", "0.50"])
    assert capsys.readouterr().out.splitlines() == [
        "| Benchmark | Result |", "|---|---|", "| a | 1.00× |", "| b | 2.00× |",
        "|  | ratio |", "|---|---|", "| c | 0.50 |",
    ]  # fmt: skip
    assert target.read_text() == (
        "\n| Benchmark | Result |\n|---|---|\n| a | 1.00× |\n| b | 2.00× |\n"
        "\n|  | ratio |\n|---|---|\n| c | 0.50 |\n"
    )


def test_a_row_must_fit_its_header():
    with pytest.raises(ValueError, match="3 cells for a table of 2 columns"):
        bench.readme_row(("a", "b"), ["1", "2", "3"])


def test_ratio_range():
    assert bench.ratio_range([0.261, 0.264]) == "0.26"
    assert bench.ratio_range([0.28, 0.26, 0.27]) == "0.26–0.28"

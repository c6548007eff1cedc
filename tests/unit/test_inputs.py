"""User input parsing: every failure is a one-line BadInput naming the problem and fix."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest

from nfk8s.errors import BadInput
from nfk8s.inputs import (
    build_params,
    format_duration,
    load_params_file,
    merge_params,
    parse_duration,
    parse_param,
    parse_quantity_cpu,
    parse_quantity_memory,
    quantity_value,
    read_config_file,
    read_local_pipeline,
    resolve_pipeline,
    validate_pipeline,
    validate_profile,
    validate_revision,
)
from nfk8s.limits import MAX_RECORD_BYTES


def assert_one_line(error: BadInput) -> None:
    assert "\n" not in error.message
    assert error.hint and "\n" not in error.hint


# -- durations --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("15m", 900),
        ("2h", 7200),
        ("1h30m", 5400),
        ("1d", 86400),
        ("300", 300),
        (" 2H ", 7200),
        ("1d2h3m4s", 93784),
        ("0h5m", 300),
        (45, 45),
    ],
)
def test_parse_duration(text: str | int, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text", ["", "  ", "-5", "-5m", "5x", "m", "1.5h", "30m1h", "1h 30m", "1hh", "abc", "h1", True]
)
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(BadInput) as info:
        parse_duration(text)
    assert_one_line(info.value)


def test_parse_duration_zero_and_negative() -> None:
    with pytest.raises(BadInput, match="longer than zero"):
        parse_duration("0s")
    with pytest.raises(BadInput, match="longer than zero"):
        parse_duration("0")
    assert parse_duration("0", allow_zero=True) == 0
    with pytest.raises(BadInput, match="negative"):
        parse_duration(-1)
    with pytest.raises(BadInput, match="invalid timeout"):
        parse_duration("soon", what="timeout")


def test_format_duration_round_trips() -> None:
    for seconds in (1, 59, 60, 90, 3600, 5400, 86400, 93784):
        assert parse_duration(format_duration(seconds)) == seconds
    assert format_duration(5400) == "1h30m"
    assert format_duration(0) == "0s"


# -- quantities -------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["500m", "2", "0.5", "1.5", "100m", "1e-3", "16", 2, 0.25])
def test_cpu_quantities(text: str) -> None:
    assert parse_quantity_cpu(text) == str(text).strip()


@pytest.mark.parametrize("text", ["", "abc", "-1", "0", "0m", "1Gi", "2 cores", "1.5.2", "0.0001"])
def test_cpu_quantities_rejected(text: str) -> None:
    with pytest.raises(BadInput) as info:
        parse_quantity_cpu(text)
    assert_one_line(info.value)


@pytest.mark.parametrize(
    "text", ["4Gi", "512M", "512Mi", "1G", "1.5Gi", "2e9", "1073741824", "1Ti"]
)
def test_memory_quantities(text: str) -> None:
    assert parse_quantity_memory(text) == text


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("512m", "512Mi"),
        ("4GB", "no B"),
        ("4g", "no B"),
        ("4gi", "no B"),
        ("", "binary units"),
        ("-1Gi", "binary units"),
        ("100", "binary units"),  # 100 bytes: below 1Mi
        ("lots", "binary units"),
    ],
)
def test_memory_quantities_rejected(text: str, hint: str) -> None:
    with pytest.raises(BadInput) as info:
        parse_quantity_memory(text)
    assert_one_line(info.value)
    assert hint in (info.value.hint or "") or hint in info.value.message


def test_quantity_value() -> None:
    assert quantity_value("1Ki") == 1024
    assert quantity_value("500m") == Decimal("0.5")
    assert quantity_value("1e3") == 1000
    assert quantity_value("2G") == 2 * 10**9
    with pytest.raises(ValueError, match="x"):
        quantity_value("x")


# -- params -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("outdir=results", {"outdir": "results"}),
        ("n=4", {"n": 4}),
        ("x=1.5", {"x": 1.5}),
        ("flag=true", {"flag": True}),
        ("flag=false", {"flag": False}),
        ("nothing=null", {"nothing": None}),
        ("list=[1,2]", {"list": [1, 2]}),
        ('obj={"a": 1}', {"obj": {"a": 1}}),
        ('s="123"', {"s": "123"}),
        ("zip=007", {"zip": "007"}),
        ("e=", {"e": ""}),
        ("eq=a=b", {"eq": "a=b"}),
        ("nan=NaN", {"nan": "NaN"}),
        ("inf=Infinity", {"inf": "Infinity"}),
        ("a.b=1", {"a": {"b": 1}}),
        ("a.b.c=x", {"a": {"b": {"c": "x"}}}),
        ("a\\.b=1", {"a.b": 1}),
        ("mem=8.GB", {"mem": "8.GB"}),
        ("path=${projectDir}/x", {"path": "${projectDir}/x"}),
        ("uni=é", {"uni": "é"}),
    ],
)
def test_parse_param(text: str, expected: dict[str, object]) -> None:
    assert parse_param(text) == expected


@pytest.mark.parametrize("text", ["=x", "x", "", "a..b=1", ".a=1", "a.=1", "a b=1"])
def test_parse_param_rejects(text: str) -> None:
    with pytest.raises(BadInput) as info:
        parse_param(text)
    assert_one_line(info.value)


def test_merge_params() -> None:
    base = {"a": {"x": 1, "y": 2}, "b": 1, "c": {"z": 1}}
    merged = merge_params(base, {"a": {"y": 3}, "b": {"n": 1}, "c": 5})
    assert merged == {"a": {"x": 1, "y": 3}, "b": {"n": 1}, "c": 5}
    assert base == {"a": {"x": 1, "y": 2}, "b": 1, "c": {"z": 1}}


def test_build_params_order(tmp_path: Path) -> None:
    file = tmp_path / "p.json"
    file.write_text('{"outdir": "from-file", "a": {"x": 1}, "keep": true}')
    params = build_params(file, ["outdir=cli", "a.y=2", "outdir=last"])
    assert params == {"outdir": "last", "a": {"x": 1, "y": 2}, "keep": True}
    assert build_params(None, ["a=1"]) == {"a": 1}


def test_load_params_json_and_yaml(tmp_path: Path) -> None:
    (tmp_path / "p.json").write_text('{"a": 1, "b": [1, "x"]}')
    assert load_params_file(tmp_path / "p.json") == {"a": 1, "b": [1, "x"]}
    (tmp_path / "p.yaml").write_text("a: 1\nwhen: 2026-01-02\nnested:\n  k: v\n3: three\n")
    assert load_params_file(tmp_path / "p.yaml") == {
        "a": 1,
        "when": "2026-01-02",
        "nested": {"k": "v"},
        "3": "three",
    }
    (tmp_path / "p.yml").write_text("")
    assert load_params_file(tmp_path / "p.yml") == {}
    (tmp_path / "noext").write_text('{"json": "works as yaml"}')
    assert load_params_file(tmp_path / "noext") == {"json": "works as yaml"}


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("bad.json", "{oops", "not valid JSON"),
        ("bad.yaml", "a: [1,\n", "not valid YAML"),
        ("list.json", "[1, 2]", "not a mapping"),
        ("scalar.yaml", "just text", "not a mapping"),
        ("binary.json", b"\xff\xfe", "not UTF-8"),
    ],
)
def test_load_params_file_rejects(
    tmp_path: Path, name: str, content: str | bytes, problem: str
) -> None:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(BadInput, match=problem) as info:
        load_params_file(path)
    assert_one_line(info.value)


def test_load_params_file_missing_or_directory(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="does not exist"):
        load_params_file(tmp_path / "nope.json")
    with pytest.raises(BadInput, match="is a directory"):
        load_params_file(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads unreadable files")
def test_load_params_file_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text("{}")
    path.chmod(0)
    with pytest.raises(BadInput, match="cannot read"):
        load_params_file(path)


# -- profile, revision, pipeline --------------------------------------------------------


@pytest.mark.parametrize("text", ["test", "test,docker", "test_full", "arm-64", "A1"])
def test_valid_profiles(text: str) -> None:
    assert validate_profile(text) == text


@pytest.mark.parametrize("text", ["", "a,", ",a", "a,,b", "a b", "-x", "a;b", "a,-b", "é"])
def test_invalid_profiles(text: str) -> None:
    with pytest.raises(BadInput) as info:
        validate_profile(text)
    assert_one_line(info.value)


@pytest.mark.parametrize(
    "text", ["main", "3.14.0", "v1.0", "feature/x", "a1b2c3d", "release-2026_11", "dev@2"]
)
def test_valid_revisions(text: str) -> None:
    assert validate_revision(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "-r",
        "/main",
        "main/",
        "main.",
        "x.lock",
        "a b",
        "a\tb",
        "a~1",
        "a^",
        "a:b",
        "a?",
        "a*",
        "a[",
        "a\\b",
        "a..b",
        "a@{1}",
        "a//b",
        "@",
        ".hidden",
        "a/.b",
    ],
)
def test_invalid_revisions(text: str) -> None:
    with pytest.raises(BadInput) as info:
        validate_revision(text)
    assert_one_line(info.value)


@pytest.mark.parametrize(
    "text",
    [
        "nf-core/rnaseq",
        "nextflow-io/hello",
        "owner/repo.name",
        "https://github.com/nf-core/rnaseq",
        "https://gitlab.com/group/sub/repo.git",
        "http://git.internal/x/y",
        "ssh://git@host/x/y.git",
        "git@github.com:nf-core/rnaseq.git",
    ],
)
def test_remote_pipelines(tmp_path: Path, text: str) -> None:
    ref = resolve_pipeline(text, cwd=tmp_path)
    assert ref.name == text and ref.local_dir is None and not ref.is_local
    assert validate_pipeline(text, cwd=tmp_path) is False


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        ("-resume", "looks like an option"),
        ("--help", "looks like an option"),
        ("hello", "neither"),
        ("a/b/c", "does not exist"),
        ("./missing", "does not exist"),
        ("/no/such/dir", "does not exist"),
        ("main.nf", "does not exist"),
        ("a\nb/c", "control characters"),
    ],
)
def test_invalid_pipelines(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(BadInput, match=problem) as info:
        resolve_pipeline(text, cwd=tmp_path)
    assert_one_line(info.value)


def test_local_pipeline(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    with pytest.raises(BadInput, match=r"no main\.nf"):
        resolve_pipeline(str(project))
    (project / "main.nf").write_text("workflow {}")
    ref = resolve_pipeline("proj", cwd=tmp_path)
    assert ref.is_local and ref.local_dir == project.resolve()
    assert ref.name == str(project.resolve())
    assert validate_pipeline(str(project)) is True
    with pytest.raises(BadInput, match="is a file"):
        resolve_pipeline(str(project / "main.nf"))
    # A local directory shaped like owner/repo wins, as it does for Nextflow.
    nested = tmp_path / "owner" / "repo"
    nested.mkdir(parents=True)
    (nested / "main.nf").write_text("")
    assert resolve_pipeline("owner/repo", cwd=tmp_path).is_local


# -- local files ------------------------------------------------------------------------


def test_read_local_pipeline(tmp_path: Path) -> None:
    (tmp_path / "main.nf").write_text("workflow {}")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "tool.sh").write_bytes(b"#!/bin/sh\n")
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "logo.png").write_bytes(b"\x89PNG\xff")
    for skipped in (".git", "work", "results", ".nextflow"):
        (tmp_path / skipped).mkdir()
        (tmp_path / skipped / "file").write_text("x")
    (tmp_path / ".nextflow.log").write_text("log")
    (tmp_path / ".nextflow.log.1").write_text("log")
    (tmp_path / "modules" / "work").mkdir(parents=True)  # skipped at any depth
    (tmp_path / "modules" / "work" / "x").write_text("x")
    (tmp_path / "link.nf").symlink_to(tmp_path / "main.nf")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    files = read_local_pipeline(tmp_path)
    assert files == {
        "assets/logo.png": b"\x89PNG\xff",
        "bin/tool.sh": b"#!/bin/sh\n",
        "link.nf": b"workflow {}",
        "main.nf": b"workflow {}",
    }


def test_read_local_pipeline_size_limit(tmp_path: Path) -> None:
    (tmp_path / "main.nf").write_text("workflow {}")
    (tmp_path / "data.bin").write_bytes(b"\xff" * (MAX_RECORD_BYTES * 3 // 4))
    with pytest.raises(BadInput) as info:
        read_local_pipeline(tmp_path)
    message = info.value.message
    assert message.startswith("local pipeline is ") and "~900 KiB" in message
    assert info.value.hint == "push it to git and run it by URL"


def test_read_config_file(tmp_path: Path) -> None:
    path = tmp_path / "x.config"
    path.write_text("process.cpus = 2\n")
    assert read_config_file(path) == "process.cpus = 2\n"
    with pytest.raises(BadInput, match="does not exist"):
        read_config_file(tmp_path / "missing.config")
    with pytest.raises(BadInput, match="directory"):
        read_config_file(tmp_path)
    (tmp_path / "bin.config").write_bytes(b"\xff")
    with pytest.raises(BadInput, match="UTF-8"):
        read_config_file(tmp_path / "bin.config")

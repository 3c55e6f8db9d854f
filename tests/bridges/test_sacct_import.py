"""``narvik import sacct``: sacct --parsable2 output as a trace (narvik.bridges.sacct_import).

The acceptance test writes a real SWF log (../shared/data/traces) as sacct output, job
steps and jobs that never ran mixed in, imports it and replays both under ``easy``:
every job waits exactly as long as in the SWF replay."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.bridges.sacct_fixtures import (
    COLUMNS,
    EPOCH,
    first_submit_offset,
    render,
    sacct_records,
    write_sacct,
)

from narvik.bridges.import_trace import EPOCH_KEY, read_trace_epoch
from narvik.bridges.sacct_import import REASONS, import_sacct, read_sacct
from narvik.bridges.sacct_import_fields import (
    parse_elapsed,
    parse_time,
    parse_timelimit,
    parse_tres,
    tres_gpus,
    zone,
)
from narvik.workload.job import DEFAULT_TIER, JobTable, TraceError
from narvik.workload.swf import read_swf, write_swf
from narvik.workload.tables import read_jobs

TRACES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "traces"


def small_jobs() -> JobTable:
    """Six jobs with every kind of estimate (unknown, shorter, longer, days)."""
    return JobTable.from_arrays(
        gpus=[1, 4, 8, 2, 16, 3],
        submit_s=[0, 10, 10, 600, 3600, 90000],
        runtime_s=[60, 3600, 7200, 30, 86400 + 5, 100],
        requested_s=[np.nan, 7200, 3600, 60, 2 * 86400, 0],
        job_id=["101", "102", "103", "104", "105", "106"],
        tenant=["acct-a", "acct-b", "acct-a", "acct-c", "acct-b", "acct-a"],
    )


def same_jobs(got: JobTable, want: JobTable, *, shift_s: float = 0.0) -> None:
    assert got.job_id.tolist() == want.job_id.tolist()
    assert got.tenant.tolist() == want.tenant.tolist()
    np.testing.assert_array_equal(got.gpus, want.gpus)
    np.testing.assert_array_equal(got.submit_s, want.submit_s - shift_s)
    np.testing.assert_array_equal(got.runtime_s, want.runtime_s)
    np.testing.assert_array_equal(got.requested_s, want.requested_s)


# --- the acceptance test: an SWF log through sacct replays job for job --------------------


def _slice(name: str, n: int = 3000) -> JobTable:
    path = TRACES / name
    if not path.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing and CI is set: ../shared/data/traces must be there")
        pytest.skip(f"{path} absent (../shared not laid out here)")
    return read_swf(path).jobs.take(np.arange(n))


def _waits(jobs_parquet: object) -> dict[str, float]:
    t = jobs_parquet.to_pydict()  # type: ignore[attr-defined]
    return {j: s - sub for j, s, sub in zip(t["job_id"], t["start_s"], t["submit_s"], strict=True)}


@pytest.mark.parametrize(
    ("name", "slots"), [("KTH-SP2-1996-2.1-cln.swf.gz", 100), ("lublin_256.swf.gz", 256)]
)
def test_swf_log_written_as_sacct_replays_with_the_same_waits(tmp_path, name, slots):
    """A real log (3,000 jobs) as sacct with job steps, pending, running and never-started
    jobs mixed in: imported, it replays under easy on flat:N with every wait equal."""
    import narvik

    jobs = _slice(name)
    swf = tmp_path / "log.swf"
    write_swf(jobs, swf)
    sacct = tmp_path / "log.sacct"
    expected_skips = write_sacct(jobs, sacct)
    trace = import_sacct(sacct, tmp_path / "log.parquet")

    assert trace.skipped_by_reason == expected_skips
    assert set(trace.skipped_by_reason) <= set(REASONS)
    assert expected_skips["job_step"] == 3 * len(jobs)
    assert {"pending", "running", "cancelled_before_start", "never_started"} <= set(expected_skips)
    assert trace.epoch_utc == EPOCH + first_submit_offset(jobs)
    same_jobs(trace.jobs, jobs, shift_s=float(jobs.submit_s.min()))

    site = f"flat:{slots}"
    from_swf = narvik.simulate(site=site, policy="easy", trace=str(swf))
    from_sacct = narvik.simulate(site=site, policy="easy", trace=str(tmp_path / "log.parquet"))
    assert from_sacct.jobs.column("job_id").to_pylist() == jobs.job_id.tolist()
    waits_swf, waits_sacct = _waits(from_swf.jobs), _waits(from_sacct.jobs)
    assert waits_sacct == waits_swf
    assert sum(w > 0 for w in waits_swf.values()) > 100  # the replay is not trivial


# --- any column order ----------------------------------------------------------------------


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(columns=st.permutations(COLUMNS))
def test_any_column_order_reads_the_same(tmp_path, columns):
    path = tmp_path / "perm.sacct"
    skips = write_sacct(small_jobs(), path, columns=columns)
    trace = read_sacct(path)
    same_jobs(trace.jobs, small_jobs())
    assert trace.skipped_by_reason == skips


@pytest.mark.parametrize(
    "drop",
    [("End",), ("Elapsed",), ("AllocTRES",), ("ReqTRES",), ("JobIDRaw",), ("JobID", "Partition")],
    ids=lambda d: "-".join(d),
)
def test_optional_columns_have_their_fallbacks(tmp_path, drop):
    """Elapsed stands in for End, ReqTRES for AllocTRES, JobID for JobIDRaw."""
    path = tmp_path / "cols.sacct"
    records, skips = sacct_records(small_jobs())
    path.write_text(render(records, [c for c in COLUMNS if c not in drop]))
    trace = read_sacct(path)
    same_jobs(trace.jobs, small_jobs())
    assert trace.skipped_by_reason == skips


def test_parsable_with_trailing_bars_and_any_case_header(tmp_path):
    """sacct --parsable (not 2) ends each line with ``|``; names match in any case."""
    records, _ = sacct_records(small_jobs(), steps=False, noise=False)
    text = render(records).replace("\n", "|\n").replace("JobIDRaw", "jobidraw", 1)
    path = tmp_path / "p1.sacct"
    path.write_text(text)
    same_jobs(read_sacct(path).jobs, small_jobs())


def test_a_missing_column_is_named(tmp_path):
    path = tmp_path / "nostate.sacct"
    records, _ = sacct_records(small_jobs())
    path.write_text(render(records, [c for c in COLUMNS if c != "State"]))
    with pytest.raises(TraceError, match=r"nostate\.sacct: line 1: no State column"):
        read_sacct(path)
    path.write_text(render(records, [c for c in COLUMNS if c not in ("End", "Elapsed")]))
    with pytest.raises(TraceError, match="no End or Elapsed column"):
        read_sacct(path)


# --- fields --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30", 1800),  # MM
        ("05:30", 330),  # MM:SS
        ("02:00:00", 7200),  # HH:MM:SS
        ("1-00:00:00", 86400),  # D-HH:MM:SS
        ("2-12:30:15", 2 * 86400 + 12 * 3600 + 30 * 60 + 15),
        ("1-06", 86400 + 6 * 3600),  # D-HH
        ("1-06:30", 86400 + 6 * 3600 + 30 * 60),  # D-HH:MM
        ("0", 0),
        ("UNLIMITED", None),
        ("Partition_Limit", None),
        ("", None),
    ],
)
def test_timelimit_forms(text, seconds):
    assert parse_timelimit(text) == seconds


@pytest.mark.parametrize("text", ["1:2:3:4", "abc", "1-", "-1:00", "1.5", "01:00:00.5", "INVALID"])
def test_bad_timelimits_raise(text):
    with pytest.raises(ValueError, match="duration"):
        parse_timelimit(text)


def test_elapsed_is_read_as_a_duration():
    assert parse_elapsed("00:00:07") == 7
    assert parse_elapsed("3-01:02:03") == 3 * 86400 + 3723
    with pytest.raises(ValueError):
        parse_elapsed("UNLIMITED")


def test_tres_strings():
    alloc = "billing=4,cpu=8,gres/gpu=4,gres/gpu:a100=4,mem=500G,node=1"
    assert parse_tres(alloc)["mem"] == "500G"
    assert tres_gpus(alloc, ["gres/gpu"]) == 4
    assert tres_gpus(alloc, ["gres/gpu:a100"]) == 4
    assert tres_gpus(alloc, ["gres/gpu:h100"]) == 0
    mixed = "cpu=8,gres/gpu:a100=2,gres/gpu:h100=6,node=2"
    assert tres_gpus(mixed, ["gres/gpu"]) == 0  # only typed counts: name the types
    assert tres_gpus(mixed, ["gres/gpu:a100", "gres/gpu:h100"]) == 8
    assert tres_gpus("", ["gres/gpu"]) == 0
    assert tres_gpus("cpu=8,GRES/GPU=2", ["gres/gpu"]) == 2
    for bad in ("cpu=8,gres/gpu", "cpu=8,=3", "gres/gpu=two"):
        with pytest.raises(ValueError, match="TRES|GPUs"):
            tres_gpus(bad, ["gres/gpu"])


def test_typed_gpus_count_when_named(tmp_path):
    header = "JobIDRaw|Submit|Start|End|Timelimit|AllocTRES|Account|QOS|State"
    times = "2024-01-01T00:00:00|2024-01-01T00:01:00|2024-01-01T01:01:00"
    line = "7|" + times + "|02:00:00|{}|a|normal|COMPLETED"
    path = tmp_path / "typed.sacct"
    path.write_text(header + "\n" + line.format("cpu=4,gres/gpu:a100=3,node=1") + "\n")
    with pytest.raises(TraceError, match="no job to import.*no_gpus 1"):
        read_sacct(path)
    trace = read_sacct(path, gpu_tres=["gres/gpu:a100"])
    assert trace.jobs.gpus.tolist() == [3]
    assert trace.jobs.runtime_s.tolist() == [3600.0]
    assert trace.jobs.requested_s.tolist() == [7200.0]


# --- time zones ----------------------------------------------------------------------------


def test_naive_times_in_oslo_are_utc_plus_one_in_winter_and_two_in_summer():
    oslo = zone("Europe/Oslo")
    winter = parse_time("2024-01-15T12:00:00", oslo)
    summer = parse_time("2024-07-15T12:00:00", oslo)
    assert winter == datetime(2024, 1, 15, 11, tzinfo=UTC).timestamp()
    assert summer == datetime(2024, 7, 15, 10, tzinfo=UTC).timestamp()
    assert (
        parse_time("2024-07-15T12:00:00", zone("UTC"))
        == datetime(2024, 7, 15, 12, tzinfo=UTC).timestamp()
    )
    # an explicit offset wins over the zone
    assert parse_time("2024-07-15T12:00:00+00:00", oslo) == parse_time(
        "2024-07-15T12:00:00", zone("UTC")
    )
    # the repeated hour at the end of summer time is read as its first occurrence (CEST)
    assert (
        parse_time("2024-10-27T02:30:00", oslo)
        == datetime(2024, 10, 27, 0, 30, tzinfo=UTC).timestamp()
    )
    for text in ("Unknown", "None", "", "unknown"):
        assert parse_time(text, oslo) is None


def test_a_trace_across_the_dst_change_keeps_real_durations(tmp_path):
    """Submit 01:00 local on 30 March 2024 (CET), start 12:00 local on 31 March (CEST):
    the epoch is 00:00 UTC and a run ending at 13:00 local lasted 3,600 s."""
    header = "JobIDRaw|Submit|Start|End|Timelimit|AllocTRES|Account|QOS|State"
    rows = [
        "1|2024-03-30T01:00:00|2024-03-31T12:00:00|2024-03-31T13:00:00|01:00:00|gres/gpu=1|a|q|COMPLETED",
        "2|2024-03-31T04:00:00|2024-03-31T04:00:00|2024-03-31T05:00:00|01:00:00|gres/gpu=1|a|q|COMPLETED",
    ]
    path = tmp_path / "oslo.sacct"
    path.write_text("\n".join([header, *rows]) + "\n")
    trace = import_sacct(path, tmp_path / "oslo.parquet", tz="Europe/Oslo")
    assert trace.epoch_utc == datetime(2024, 3, 30, 0, tzinfo=UTC)
    # 04:00 CEST on 31 March is 02:00 UTC: 26 h after the epoch (a 23 h local day)
    assert trace.jobs.submit_s.tolist() == [0.0, 26 * 3600.0]
    assert trace.jobs.runtime_s.tolist() == [3600.0, 3600.0]
    assert read_trace_epoch(tmp_path / "oslo.parquet") == trace.epoch_utc
    same_utc = read_sacct(path)  # the same text read as UTC: t = 0 an hour later
    assert same_utc.epoch_utc == trace.epoch_utc + timedelta(hours=1)


def test_the_trace_written_in_oslo_time_reads_back(tmp_path):
    path = tmp_path / "oslo.sacct"
    write_sacct(small_jobs(), path, zone="Europe/Oslo")
    trace = read_sacct(path, tz="Europe/Oslo")
    same_jobs(trace.jobs, small_jobs())
    assert trace.epoch_utc == EPOCH


def test_an_unknown_zone_is_a_clear_error(tmp_path):
    path = tmp_path / "x.sacct"
    write_sacct(small_jobs(), path)
    with pytest.raises(ValueError, match="--tz: unknown time zone 'Mars/Olympus'"):
        read_sacct(path, tz="Mars/Olympus")


# --- skips, maps ---------------------------------------------------------------------------


def test_skips_are_counted_by_reason(tmp_path):
    path = tmp_path / "skips.sacct"
    expected = write_sacct(small_jobs(), path)
    trace = read_sacct(path)
    assert trace.skipped_by_reason == expected
    assert expected == {
        "job_step": 18,
        "pending": 1,
        "running": 1,
        "cancelled_before_start": 2,
        "never_started": 1,
        "no_gpus": 1,
        "requeued": 1,
    }
    assert trace.skipped == 25
    assert trace.summary()["skipped"] == expected
    assert len(trace.jobs) == 6


def test_tier_and_tenant_maps(tmp_path):
    path = tmp_path / "maps.sacct"
    write_sacct(small_jobs(), path, steps=False, noise=False)
    plain = read_sacct(path)
    assert set(plain.jobs.tier.tolist()) == {DEFAULT_TIER}
    mapped = read_sacct(
        path, tier_map=["high=anchor", "*=regional"], tenant_map={"acct-a": "openai"}
    )
    # the fixture gives every third job (0, 3) QOS "high"
    assert mapped.jobs.tier.tolist() == [
        "anchor",
        "regional",
        "regional",
        "anchor",
        "regional",
        "regional",
    ]
    assert mapped.jobs.tenant.tolist() == [
        "openai",
        "acct-b",
        "openai",
        "acct-c",
        "acct-b",
        "openai",
    ]
    with pytest.raises(ValueError, match="--tier-map: expected NAME=VALUE"):
        read_sacct(path, tier_map=["high"])


# --- bad lines, atomic output ---------------------------------------------------------------


def _corrupt(tmp_path: Path, field: str, value: str) -> Path:
    records, _ = sacct_records(small_jobs(), steps=False, noise=False)
    records[2][field] = value
    path = tmp_path / "bad.sacct"
    path.write_text(render(records))
    return path


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        (
            "Submit",
            "2024-13-01T00:00:00",
            r"line 4, field Submit: cannot read '2024-13-01T00:00:00'",
        ),
        ("Start", "yesterday", r"line 4, field Start: cannot read 'yesterday' as a time"),
        ("End", "2024-03-01 25:00", r"line 4, field End: cannot read"),
        ("Timelimit", "forever", r"line 4, field Timelimit: cannot read 'forever' as a duration"),
        ("AllocTRES", "cpu=8,gres/gpu=x", r"line 4, field AllocTRES: cannot read gres/gpu='x'"),
        ("AllocTRES", "cpu8", r"line 4, field AllocTRES: cannot read 'cpu8'"),
        ("Submit", "Unknown", r"line 4, field Submit: unknown submit time"),
    ],
)
def test_bad_fields_name_file_line_and_field_and_write_nothing(tmp_path, field, value, match):
    path = _corrupt(tmp_path, field, value)
    out = tmp_path / "out.parquet"
    with pytest.raises(TraceError, match=rf"bad\.sacct: {match}"):
        import_sacct(path, out)
    assert not out.exists()
    assert list(tmp_path.glob(".out.parquet*")) == []


def test_wrong_field_count_names_the_line(tmp_path):
    records, _ = sacct_records(small_jobs(), steps=False, noise=False)
    lines = render(records).splitlines()
    lines[3] += "|extra"
    path = tmp_path / "count.sacct"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(TraceError, match=r"count\.sacct: line 4: expected 13 fields .* found 14"):
        read_sacct(path)


def test_an_empty_or_all_skipped_file_is_an_error(tmp_path):
    empty = tmp_path / "empty.sacct"
    empty.write_text("\n")
    with pytest.raises(TraceError, match="empty file"):
        read_sacct(empty)
    header_only = tmp_path / "header.sacct"
    header_only.write_text(render([]))
    with pytest.raises(TraceError, match="no job to import"):
        read_sacct(header_only)


def test_the_parquet_is_a_narvik_trace_with_its_epoch(tmp_path):
    path = tmp_path / "t.sacct"
    write_sacct(small_jobs(), path)
    out = tmp_path / "t.parquet"
    trace = import_sacct(path, out)
    back = read_jobs(out)
    same_jobs(back, small_jobs())
    assert back.tier.tolist() == trace.jobs.tier.tolist()
    meta = pq.read_schema(out).metadata
    assert meta[EPOCH_KEY.encode()] == b"2024-03-01T00:00:00Z"
    assert read_trace_epoch(out) == EPOCH


def test_same_input_same_bytes(tmp_path):
    """The trace depends on the input only (not on where it lies): bit for bit."""
    outs = []
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        src = tmp_path / folder / "same.sacct"
        write_sacct(small_jobs(), src)
        import_sacct(src, tmp_path / folder / "t.parquet")
        outs.append((tmp_path / folder / "t.parquet").read_bytes())
    assert outs[0] == outs[1]

"""Trace files: the two layouts, and one clear line for every way a file can be wrong."""

from __future__ import annotations

import pytest

from scaler.simulate.trace import TraceFileError, load_trace


def write(tmp_path, text: str):
    path = tmp_path / "trace.csv"
    path.write_text(text)
    return path


def test_per_minute_trace_with_orders(tmp_path):
    trace = load_trace(write(tmp_path, "minute,rps,orders_per_s\n0,19.9,0.4\n1,20.5,0.41\n"))
    assert trace.step_s == 60 and trace.duration_s == 120
    assert trace.rps.tolist() == [19.9, 20.5]
    assert trace.orders_per_s.tolist() == [0.4, 0.41]
    assert trace.per_second(trace.rps)[59:61].tolist() == [19.9, 20.5]


def test_per_second_trace_without_orders(tmp_path):
    trace = load_trace(write(tmp_path, "second,rps\n0,10\n1,12\n2,9\n"))
    assert (trace.step_s, trace.duration_s) == (1, 3)
    assert trace.orders_per_s.tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize(("text", "message"), [
    ("", "is empty"),
    ("hour,rps\n0,1\n", "is not a trace header: use 'minute,rps[,orders_per_s]'"),
    ("minute,rps,orders\n0,1,1\n", "is not a trace header"),
    ("minute,rps\n", "has a header but no rows"),
    ("minute,rps\n0,1\n2,1\n", "line 3: expected minute 1, got 2; give one row per minute"),
    ("minute,rps\n0,abc\n", "line 2: not a number"),
    ("minute,rps\n0,-4\n", "line 2: rates must be from 0 to 1e+07 per second"),
    ("minute,rps\n0,nan\n", "line 2: rates must be from 0 to 1e+07 per second"),
    ("minute,rps\n0,1e308\n", "line 2: rates must be from 0 to 1e+07 per second"),
    ("minute,rps,orders_per_s\n0,1\n", "line 2: expected 3 values, got 2"),
    ("\x00" * 4096, "holds NUL characters"),
])
def test_bad_trace_files_get_one_line_naming_the_fix(tmp_path, text, message):
    with pytest.raises(TraceFileError) as raised:
        load_trace(write(tmp_path, text))
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_trace_saved_by_a_spreadsheet_reads(tmp_path):
    """Excel's "CSV UTF-8" starts with a byte order mark and ends lines with CRLF."""
    path = tmp_path / "trace.csv"
    path.write_bytes("\ufeffminute,rps\r\n0,5\r\n1,7\r\n".encode())
    assert list(load_trace(path).rps) == [5.0, 7.0]


def test_a_device_instead_of_a_trace_is_refused_without_reading_it_all(tmp_path):
    with pytest.raises(TraceFileError) as raised:
        load_trace("/dev/zero")
    assert "\n" not in str(raised.value)


def test_missing_trace_file(tmp_path):
    with pytest.raises(TraceFileError, match="trace file not found: .*missing.csv"):
        load_trace(tmp_path / "missing.csv")

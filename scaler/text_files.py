"""Reading the CSV files people hand the scaler (traces, events): as spreadsheets write them.

UTF-8 with or without the byte order mark Excel's "CSV UTF-8" puts first, and no larger than
a season of per-second rates needs, so that a wrong path (a device, a disk image) is refused
rather than read until memory runs out.
"""

from __future__ import annotations

from pathlib import Path

# A 92-day season at one row a second, with order rates, is about 170 MB of CSV.
MAX_BYTES = 256 * 2**20


class UnreadableFile(ValueError):
    """The file cannot be read as text: the message names it and the fix."""


def read_text(path: Path, what: str) -> str:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise UnreadableFile(f"{what} not found: {path} (give an existing CSV file)") from None
    except IsADirectoryError:
        raise UnreadableFile(f"{what} {path} is a directory: give a CSV file") from None
    except OSError as error:
        raise UnreadableFile(f"cannot read {what} {path}: {error.strerror or error}") from None
    if len(data) > MAX_BYTES:
        raise UnreadableFile(f"{what} {path} is larger than {MAX_BYTES // 2**20} MiB: give a "
                             "CSV file of a season's rates")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UnreadableFile(f"{what} {path} is not UTF-8 text (byte {error.start}): save it "
                             "as CSV UTF-8") from None
    if "\x00" in text:
        raise UnreadableFile(f"{what} {path} holds NUL characters, so it is not a CSV file")
    return text

"""SMS segment counting: GSM-7 160/153, the extension table counting two, UCS-2 70/67."""

import pytest

from caredesk.channels.sms.segments import count_segments


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", "GSM-7", 0, 0),
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("€" * 80, "GSM-7", 160, 1),  # the euro sign is in the extension table: two septets
        ("a" * 159 + "{", "GSM-7", 161, 2),
        ("Ünïcode ñ é à", "UCS-2", 13, 1),  # ï is not in GSM-7
        ("ж" * 70, "UCS-2", 70, 1),
        ("ж" * 71, "UCS-2", 71, 2),
        ("ж" * 134, "UCS-2", 134, 2),
        ("ж" * 135, "UCS-2", 135, 3),
        ("😀" * 35, "UCS-2", 70, 1),  # outside the BMP: two UTF-16 units each
        ("😀" * 36, "UCS-2", 72, 2),
    ],
)
def test_segments(text, encoding, units, segments):
    count = count_segments(text)
    assert (count.encoding, count.units, count.segments) == (encoding, units, segments)
    assert count.per_segment == {("GSM-7", True): 160, ("GSM-7", False): 153}.get(
        (encoding, segments <= 1), 70 if segments <= 1 else 67
    )

"""A tampered ``progress`` on --resume is a DataError that changes nothing; metrics.json
holds null (listed under "non_finite") where a value was NaN or infinite."""

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.runner import Progress, json_safe, progress_from_meta
from tinygrad_hw.errors import DataError

GOOD = {
    "round": 2,
    "batches_done": 3,
    "steps": 40,
    "order_state": {"state": 1},
    "running": [1.0, 2.0, 3.0],
    "seconds": 1.5,
    "history": [],
    "step_losses": [],
}


def test_a_good_progress_is_read_back():
    assert progress_from_meta({"progress": GOOD}) == Progress(**GOOD)


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        ({"round": -1}, r"progress\.round.*>= 0"),
        ({"steps": "40"}, r"progress\.steps"),
        ({"seconds": float("nan")}, r"progress\.seconds"),
        ({"batches_done": True}, r"progress\.batches_done"),
        ({"running": [1.0]}, r"progress\.running"),
        ({"history": {}}, r"progress\.history"),
        ({"extra": 1}, r"unknown fields \['extra'\]"),
        ({"round": None}, r"progress\.round"),
    ],
)
def test_a_tampered_progress_is_a_data_error_naming_the_field(change, pattern):
    with pytest.raises(DataError, match=pattern):
        progress_from_meta({"progress": {**GOOD, **change}})


@pytest.mark.parametrize("raw", [None, [1, 2], "progress", 3])
def test_a_progress_that_is_not_an_object_is_refused(raw):
    with pytest.raises(DataError, match="JSON object"):
        progress_from_meta({"progress": raw})


finite_or_not = st.floats(allow_nan=True, allow_infinity=True)


@given(
    rows=st.lists(st.fixed_dictionaries({"loss": finite_or_not, "acc": finite_or_not}), max_size=4)
)
def test_metrics_with_nan_or_inf_are_strict_json_with_nulls_listed(rows):
    metrics = {"epochs": rows, "seconds_per_epoch": float("nan") if rows else 1.0}
    text = json.dumps(json_safe(metrics), allow_nan=False)  # raises on any NaN left
    back = json.loads(text)
    bad = [
        f"epochs[{i}].{k}" for i, r in enumerate(rows) for k, v in r.items() if not np.isfinite(v)
    ]
    if rows:
        bad.append("seconds_per_epoch")
    listed = [entry.split(" ")[0] for entry in back.get("non_finite", [])]
    assert sorted(listed) == sorted(bad)
    for i, row in enumerate(rows):
        for key, value in row.items():
            assert back["epochs"][i][key] == (value if np.isfinite(value) else None)

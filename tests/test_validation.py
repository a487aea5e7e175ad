import json
import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bonas.validation import check_choice, check_finite, check_int, check_json, check_positive, is_finite, is_integer

NAMES = st.from_regex(r"[a-z][a-z_]{0,11}", fullmatch=True)
BOOLS = st.sampled_from([True, False, np.bool_(True), np.bool_(False)])
NUMPY_INTEGER_TYPES = (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64)
NUMPY_INTEGERS = st.sampled_from(NUMPY_INTEGER_TYPES).flatmap(
    lambda dtype: st.integers(int(np.iinfo(dtype).min), int(np.iinfo(dtype).max)).map(dtype))
BOUNDS = st.one_of(st.none(), st.integers(-1000, 1000))
NON_INTEGERS = st.one_of(st.floats(allow_nan=True), st.text(max_size=3), st.none(), st.lists(st.integers(), max_size=2),
                         st.sampled_from([np.float32(1.0), np.float64(2.0), 1j]))
JSON = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5),
                              st.floats(allow_nan=False, allow_infinity=False)),
                    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children,
                                                                                      max_size=3),
                    max_leaves=10)
FAST = settings(max_examples=60, deadline=None)


@FAST
@given(value=BOOLS, name=NAMES, minimum=BOUNDS, maximum=BOUNDS)
def test_bools_are_refused_everywhere(value, name, minimum, maximum):
    assert not is_integer(value) and not is_finite(value)
    for check in (lambda: check_int(value, name, minimum, maximum), lambda: check_finite(value, name),
                  lambda: check_positive(value, name)):
        with pytest.raises(ValueError, match=f"^{name} must be "):
            check()


@FAST
@given(value=NUMPY_INTEGERS, name=NAMES)
def test_numpy_integers_are_accepted_as_python_ints(value, name):
    assert is_integer(value)
    checked = check_int(value, name, minimum=int(value), maximum=int(value))
    assert type(checked) is int and checked == int(value)
    assert check_finite(value, name) == float(value)


@FAST
@given(value=st.one_of(st.integers(-2000, 2000), NUMPY_INTEGERS), name=NAMES, minimum=BOUNDS, maximum=BOUNDS)
def test_bounds_are_honoured_and_the_error_names_the_argument(value, name, minimum, maximum):
    inside = (minimum is None or value >= minimum) and (maximum is None or value <= maximum)
    if inside:
        assert check_int(value, name, minimum, maximum) == int(value)
        return
    with pytest.raises(ValueError) as error:
        check_int(value, name, minimum, maximum)
    message = str(error.value)
    assert message.startswith(f"{name} must be an integer") and message.endswith(f"got {value!r}")
    assert (f">= {minimum}" in message) == (minimum is not None)
    assert (f"<= {maximum}" in message) == (maximum is not None)


@FAST
@given(value=NON_INTEGERS, name=NAMES)
def test_anything_but_an_integer_is_refused_by_check_int(value, name):
    assert not is_integer(value)
    with pytest.raises(ValueError, match=f"^{name} must be an integer, got "):
        check_int(value, name)


@FAST
@given(value=st.one_of(st.floats(), st.integers(-10**20, 10**20), st.sampled_from([10**400, -10**400]),
                       st.floats(width=32).map(np.float32)), name=NAMES)
def test_finite_and_positive_numbers(value, name):
    finite = not (type(value) is int and abs(value) >= 10**400) and math.isfinite(float(value))
    assert is_finite(value) == finite
    if finite:
        assert check_finite(value, name) == float(value)
    else:
        with pytest.raises(ValueError, match=f"^{name} must be a finite number"):
            check_finite(value, name)
    if finite and value > 0:
        assert check_positive(value, name) == float(value)
    else:
        with pytest.raises(ValueError, match=f"^{name} must be a positive finite number, got "):
            check_positive(value, name)


def test_an_integer_too_large_for_a_float_is_named_by_its_digits():
    with pytest.raises(ValueError, match="^seed must be a finite number; an integer of 401 digits overflows a float"):
        check_finite(10**400, "seed")


@FAST
@given(allowed=st.lists(NAMES, min_size=1, max_size=4, unique=True), value=st.one_of(NAMES, st.integers()),
       name=NAMES)
def test_choices_are_members_and_the_error_lists_them(allowed, value, name):
    if value in allowed:
        assert check_choice(value, name, allowed) == value
    else:
        with pytest.raises(ValueError, match=f"^unknown {name} ") as error:
            check_choice(value, name, iter(allowed))
        assert str(allowed) in str(error.value)


@FAST
@given(value=JSON, name=NAMES)
def test_plain_json_is_accepted_and_round_trips(value, name):
    check_json(value, name)
    assert json.loads(json.dumps(value, allow_nan=False)) == value


@FAST
@given(value=JSON, bad=st.sampled_from([math.nan, math.inf, np.int64(3), object(), {1: "a"}, {"a", "b"}]),
       key=st.text(max_size=5), name=NAMES)
def test_what_json_cannot_hold_is_refused_by_its_path(value, bad, key, name):
    with pytest.raises(ValueError, match=f"^{name}\\[1\\]\\.{re.escape(key)} "):
        check_json([value, {key: bad}], name)

import pytest

from transmute_common.errors import TransmuteError
from transmute_common.runtime import output_name
from transmute_gateway.catalog import validate_options
from transmute_image.options import OPTION_SPECS


def test_valid_options_pass() -> None:
    opts = {"width": 100, "quality": 50.0, "fit": "cover", "strip": False}
    assert validate_options(opts, OPTION_SPECS) == opts


@pytest.mark.parametrize(
    "opts",
    [
        {"colour": "red"},
        {"width": "100"},
        {"width": 1.5},
        {"width": 0},
        {"quality": 101},
        {"fit": "stretch"},
        {"strip": "yes"},
        {"lossless": 1},
    ],
)
def test_invalid_options_are_422(opts: dict) -> None:
    with pytest.raises(TransmuteError) as err:
        validate_options(opts, OPTION_SPECS)
    assert (err.value.code, err.value.status) == ("invalid_options", 422)


def test_options_must_be_an_object() -> None:
    with pytest.raises(TransmuteError):
        validate_options([1, 2], OPTION_SPECS)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("photo.jpg", "photo.webp"),
        ("../../etc/passwd", "passwd.webp"),
        ("C:\\Users\\x\\holiday pic.png", "holiday pic.webp"),
        ("", "output.webp"),
        ("..", "output.webp"),
        ("ünïcode€.gif", "ünïcode_.webp"),
    ],
)
def test_output_names_are_safe(name: str, expected: str) -> None:
    assert output_name(name, "webp") == expected

from pathlib import Path

import pytest

from transmute_common.converter import Capabilities, OptionSpec, OutputFile
from transmute_common.errors import TransmuteError
from transmute_common.runtime import output_name, output_names
from transmute_gateway.catalog import validate_options
from transmute_gateway.core import UploadedFile, result_key
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


def test_several_outputs_are_named_by_their_parts() -> None:
    def out(name: str) -> OutputFile:
        return OutputFile(Path("/x") / name, name, "application/pdf")

    assert output_names("report.pdf", [out("merged.pdf")], "pdf") == ["report.pdf"]
    assert output_names("r.pdf", [out("page-1.pdf"), out("pages-2-3.pdf")], "pdf") == [
        "r-page-1.pdf",
        "r-pages-2-3.pdf",
    ]
    # The engine's extension wins (a bundle), and parts that clash are numbered.
    assert output_names("r.pdf", [out("parts.zip")], "pdf") == ["r.zip"]
    assert output_names("r.pdf", [out("a/x.png"), out("b/x.png")], "png") == [
        "r-1.png",
        "r-2.png",
    ]
    assert output_names("r.pdf", [out("../../evil"), out("ok")], "png") == [
        "r-evil.png",
        "r-ok.png",
    ]


def test_options_are_checked_against_the_operations_that_read_them() -> None:
    specs = [
        OptionSpec(name="angle", type="integer", description="", operations=["rotate"]),
        OptionSpec(name="password", type="string", description=""),
    ]
    assert validate_options({"angle": 90}, specs, "rotate") == {"angle": 90}
    assert validate_options({"password": "x"}, specs, "merge") == {"password": "x"}
    with pytest.raises(TransmuteError) as err:
        validate_options({"angle": 90}, specs, "merge")
    assert err.value.code == "invalid_options" and err.value.details == {"known": ["password"]}


def test_result_keys_name_what_makes_a_result_the_same() -> None:
    image = Capabilities(service="image", conversions=[], options=[], engine_version="v1")
    photo = UploadedFile("f1", "a.jpg", 10, "abc", "image/jpeg", "jpeg")
    renamed = UploadedFile("f2", "b.jpg", 10, "abc", "image/jpeg", "jpeg")
    other = UploadedFile("f3", "a.jpg", 10, "abd", "image/jpeg", "jpeg")
    key = result_key(image, "convert", "webp", [photo], {"width": 1, "quality": 2})
    assert key == result_key(image, "convert", "webp", [renamed], {"quality": 2, "width": 1})
    assert key != result_key(image, "convert", "webp", [other], {"width": 1, "quality": 2})
    assert key != result_key(image, "convert", "png", [photo], {"width": 1, "quality": 2})
    assert key != result_key(image, "convert", "webp", [photo], {"width": 2, "quality": 2})
    newer = image.model_copy(update={"engine_version": "v2"})
    assert key != result_key(newer, "convert", "webp", [photo], {"width": 1, "quality": 2})
    unversioned = image.model_copy(update={"engine_version": ""})
    assert result_key(unversioned, "convert", "webp", [photo], {}) == ""

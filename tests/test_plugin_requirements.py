"""Plugin discovery reads most Requires-Dist lines without packaging.requirements
(to keep `crm --help` fast); it must agree with packaging on every line."""

from __future__ import annotations

import importlib.metadata

import pytest
from packaging.requirements import InvalidRequirement, Requirement

from crm_core.plugins import requirements as _requirements

LINES = [
    "crm-hookspecs<2,>=1.0",
    "crm-hookspecs (>=1.0,<2)",
    "crm-hookspecs>=1.0 , <2",
    "crm_contacts>=0.1",
    "Foo.Bar ==1.*",
    "ab.c_d-e>=2",
    "a",
    " a ",
    "a>= 1",
    "a\t>=1",
    "a ( >=1 )",
    "a~=1.2",
    "a===foo",
    "a!=1",
    "a>=1.0a1",
    # extras, URLs and markers: parsed by packaging
    'pytest>=8; extra == "test"',
    "a;extra=='x'",
    'a>=1; python_version>="3"',
    'a<=1 ; extra == "t" and python_version > "3"',
    "foo[bar]>=1",
    "x @ https://example.com/x.whl",
    # invalid: skipped by both
    "a>=1,",
    "a>=1,,<2",
    "a ,",
    "a()",
    "a(>=1",
    "a>=1)",
    "a>=1.0 garbage",
    "-a",
    "a-",
    "a->=1",
    "a;",
    "a>=1;",
]


def _with_packaging(line: str) -> tuple[str, str] | None:
    try:
        req = Requirement(line)
    except InvalidRequirement:
        return None
    if req.marker is not None and not req.marker.evaluate({"extra": ""}):
        return None
    return req.name, str(req.specifier)


def _installed_lines() -> list[str]:
    return sorted({line for dist in importlib.metadata.distributions() for line in dist.requires or ()})


@pytest.mark.parametrize("line", LINES + _installed_lines())
def test_requirement_lines_read_as_packaging_reads_them(line: str) -> None:
    expected = _with_packaging(line)
    assert _requirements([line]) == ([expected] if expected is not None else [])

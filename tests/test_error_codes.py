"""``ErrorCode``: every code documented, every documented code a member, one class per code."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

import gutbrain
from gutbrain import errors
from gutbrain.errors import ErrorCode, GutbrainError

SRC = Path(gutbrain.__file__).parent
ERRORS_MD = Path(__file__).resolve().parents[1] / "docs" / "errors.md"

#: A row of a code table in docs/errors.md: | `GB-…` | exit | meaning | what to do |
_ROW = re.compile(r"^\| `(GB-[A-Z0-9-]+)` \| ([^|]+) \| ([^|]+) \| ([^|]+) \|$")


def _documented() -> dict[str, tuple[str, str, str]]:
    rows: dict[str, tuple[str, str, str]] = {}
    for line in ERRORS_MD.read_text(encoding="utf-8").splitlines():
        match = _ROW.match(line)
        if match is None:
            continue
        code, exit_text, meaning, action = (part.strip() for part in match.groups())
        assert code not in rows, f"{code} documented twice"
        rows[code] = (exit_text, meaning, action)
    return rows


def _error_classes() -> dict[str, type[GutbrainError]]:
    """Every GutbrainError subclass by name, including those of cli and web."""
    pytest.importorskip("fastapi")
    import gutbrain.cli.cohort
    import gutbrain.cli.serve
    import gutbrain.web.uploads  # noqa: F401  (registers UploadError)

    found: dict[str, type[GutbrainError]] = {}
    todo: list[type[GutbrainError]] = [GutbrainError]
    while todo:
        cls = todo.pop()
        if cls.__module__.startswith("gutbrain."):
            assert found.setdefault(cls.__name__, cls) is cls, f"two classes {cls.__name__}"
        todo.extend(cls.__subclasses__())
    return found


def test_every_code_is_documented_and_every_documented_code_is_a_member() -> None:
    documented = _documented()
    members = {member.value for member in ErrorCode}
    assert sorted(members - documented.keys()) == []  # add a row to docs/errors.md
    assert sorted(documented.keys() - members) == []  # add the member to ErrorCode
    for code, (_exit, meaning, action) in documented.items():
        assert len(meaning) > 10, f"{code}: say what it means"
        assert len(action) > 10, f"{code}: say what to do"


def test_documented_exit_status_is_that_of_the_code_s_class() -> None:
    classes = _error_classes()
    documented = _documented()
    for member in ErrorCode:
        exit_text = documented[member.value][0]
        cls = classes[member.error_class]
        if exit_text.startswith("HTTP "):  # the portal's refusals do not exit
            assert member.error_class == "UploadError", member
        else:
            assert int(exit_text) == cls.exit_code, member


def test_member_names_follow_their_codes_and_each_class_default_is_its_own() -> None:
    for member in ErrorCode:
        assert member.name == member.value.removeprefix("GB-").replace("-", "_")
        assert ErrorCode(member.value) is member
        assert member == member.value  # a StrEnum: compares equal to the stored string
    for name, cls in _error_classes().items():
        default = ErrorCode(cls.code)  # a ValueError if a class's default code is no member
        assert default.error_class in [c.__name__ for c in cls.__mro__], (name, default)


def test_error_classes_in_errors_module_are_exported() -> None:
    for member in ErrorCode:
        cls = getattr(errors, member.error_class, None)
        if cls is not None:
            assert member.error_class in errors.__all__


def _code_of(node: ast.expr) -> ErrorCode | None:
    """The code an argument names: ``ErrorCode.X`` or a ``"GB-…"`` literal; else None."""
    if isinstance(node, ast.Attribute) and ast.unparse(node.value) in {
        "ErrorCode",
        "errors.ErrorCode",
    }:
        return ErrorCode[node.attr]
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return ErrorCode(node.value)
    return None


def test_each_code_is_raised_with_its_own_class_only() -> None:
    """One error per condition: ``SomeError(..., code=X)`` in src/ uses X's class.

    ``UploadError`` is the portal's refusal: it carries the code of the condition (e.g.
    ``GB-EMPTY``, ``GB-NOSPACE``) with an HTTP status, so it may carry any code.
    """
    classes = _error_classes()
    wrong = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name not in classes or name == "UploadError":
                continue
            for keyword in node.keywords:
                code = _code_of(keyword.value) if keyword.arg == "code" else None
                if code is not None and code.error_class != name:
                    where = f"{path.relative_to(SRC)}:{node.lineno}"
                    wrong.append(f"{where}: {name} with {code.value} ({code.error_class})")
    assert wrong == []


#: A string literal that is exactly one code, as the codemod rewrites it.
_BARE_CODE = re.compile(r"""^[rRuU]?(['"])GB-[A-Z0-9]+(?:-[A-Z0-9]+)*\1$""")


def test_no_bare_code_literal_outside_errors_py() -> None:
    """Codes go through ``ErrorCode`` (so a new code needs a member and a docs row).

    /work/briefs/errorcode_codemod.py rewrites ``"GB-…"`` literals to members.
    """
    bare = []
    for path in sorted(SRC.rglob("*.py")):
        if path == SRC / "errors.py":
            continue
        source = path.read_text(encoding="utf-8")
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.STRING and _BARE_CODE.match(token.string):
                bare.append(f"{path.relative_to(SRC)}:{token.start[0]}: {token.string}")
    assert bare == []


# --- conditions that had two codes or classes now have one (issue 15, item 4)


def test_a_text_input_that_is_not_utf8_is_gb_encoding(tmp_path: Path) -> None:
    from gutbrain.axis.modules import read_ko_table
    from gutbrain.cohort.sheet import read_sample_sheet

    sheet = tmp_path / "latin1.csv"
    sheet.write_bytes("sample_id,profile\nS\xe9,x\n".encode("latin-1"))
    ko = tmp_path / "latin1.tsv"
    ko.write_bytes("KO\tS\xe9\nK00001\t1\n".encode("latin-1"))
    for read in (lambda: read_sample_sheet(sheet), lambda: read_ko_table(ko)):
        with pytest.raises(errors.InputFormatError, match="not UTF-8") as info:
            read()
        assert info.value.code == ErrorCode.ENCODING  # as answers and markers files


@pytest.mark.parametrize(
    ("cell", "code"),
    [("abc", ErrorCode.TAB_NUM), ("-1", ErrorCode.TAB_NEG), ("nan", ErrorCode.TAB_NONFINITE)],
)
def test_a_ko_table_cell_has_the_codes_of_any_table_cell(
    tmp_path: Path, cell: str, code: ErrorCode
) -> None:
    from gutbrain.axis.modules import read_ko_table

    ko = tmp_path / "ko.tsv"
    ko.write_text(f"KO\tS1\nK00001\t{cell}\n", encoding="utf-8")
    with pytest.raises(errors.InputFormatError, match=r"ko\.tsv:2") as info:
        read_ko_table(ko)
    assert info.value.code == code


def test_a_repeated_sample_id_is_gb_tab_dupsample_also_when_writing() -> None:
    from gutbrain.io.tables.profile import format_profile_tsv
    from gutbrain.model import Profile, Provenance, SampleId

    profile = Profile(SampleId("a"), [], {}, Provenance("0", "t"), 0)
    with pytest.raises(errors.InputFormatError, match="'a' appears twice") as info:
        format_profile_tsv([profile, profile])
    assert info.value.code == ErrorCode.TAB_DUPSAMPLE


def test_ecology_options_are_option_errors() -> None:
    import pandas as pd

    from gutbrain.ecology import beta_diversity, rarefy

    matrix = pd.DataFrame([[1, 2], [3, 4]], index=["a", "b"], columns=["x", "y"])
    with pytest.raises(errors.OptionError, match="unknown beta metric 'nope'") as info:
        beta_diversity(matrix, "nope")
    assert info.value.code == ErrorCode.OPTION
    with pytest.raises(errors.OptionError, match="depth must be positive") as info:
        rarefy(matrix, 0, seed=1)
    assert info.value.code == ErrorCode.OPTION

"""The py4j client against the real Java API: every member it calls exists, public, in the jar of the installed
``altastata`` package, and the test gateway (tests/harness/altastata_gateway) offers exactly those members too, so
the tests on the gateway test what the real jar would be asked.

The jar's signatures are read with ``javap -public`` (the JDK that make test installs).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

from objstore.adapters.altastata import PY4J_API
from tests.harness.altastata import build_gateway

_MEMBER = re.compile(
    r"^\s*public\s+(?:(?:static|final|synchronized|native)\s+)*"  # modifiers
    r"(?:[\w.$<>\[\], ?]+\s+)?"  # the return type (none for a constructor)
    r"(?P<name>[\w$]+)\((?P<params>[^)]*)\)"
)


def _altastata_jar() -> Path:
    import altastata

    jars = sorted((Path(altastata.__file__).parent / "lib").glob("altastata-services-*.jar"))
    assert jars, "the altastata package ships no altastata-services jar"
    return jars[-1]


def public_members(classpath: str, classes: set[str]) -> dict[str, set[tuple[str, int]]]:
    """Each class's public methods and constructors, as (name, number of parameters); ``<init>`` for constructors."""
    javap = shutil.which("javap")
    assert javap is not None, "javap not found: make test installs a JDK"
    command = [javap, "-public", "-cp", classpath, *sorted(classes)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    members: dict[str, set[tuple[str, int]]] = defaultdict(set)
    current = ""
    for line in result.stdout.splitlines():
        header = re.match(r"^public .*?(?:class|interface|enum) ([\w.$]+)", line)
        if header:
            current = header.group(1)
            continue
        found = _MEMBER.match(line)
        if found and current:
            params = found.group("params").strip()
            count = 0 if not params else len(_split_params(params))
            name = found.group("name")
            members[current].add(("<init>" if name == current.rsplit(".", 1)[-1] else name, count))
    return members


def _split_params(params: str) -> list[str]:
    depth, pieces, start = 0, [], 0
    for index, char in enumerate(params):
        depth += char == "<"
        depth -= char == ">"
        if char == "," and depth == 0:
            pieces.append(params[start:index])
            start = index + 1
    return [*pieces, params[start:]]


CLASSES = {owner for owner, _, _ in PY4J_API}


def _missing(members: dict[str, set[tuple[str, int]]]) -> list[str]:
    return [f"{owner}.{name}/{count}" for owner, name, count in PY4J_API if (name, count) not in members[owner]]


def test_every_member_the_client_calls_is_public_in_the_real_jar() -> None:
    members = public_members(str(_altastata_jar()), CLASSES)
    assert set(members) == CLASSES, f"classes not found in {_altastata_jar().name}"
    assert _missing(members) == []


def test_the_test_gateway_offers_the_same_members(tmp_path: Path) -> None:
    from tests.harness.altastata import py4j_jar

    classes = build_gateway(tmp_path / "classes")
    members = public_members(f"{classes}:{py4j_jar()}", CLASSES)
    assert _missing(members) == []
    real = public_members(str(_altastata_jar()), CLASSES)
    for owner in CLASSES:  # nothing public in the stand-in that the real class lacks
        extra = members[owner] - real[owner]
        assert not extra, f"the test gateway's {owner} has members the real jar lacks: {sorted(extra)}"


def test_the_parser_reads_javap(tmp_path: Path) -> None:
    """The reader above finds a known member and a known absence (it could otherwise pass by reading nothing)."""
    members = public_members(str(_altastata_jar()), {"com.altastata.api.AltaStataFileSystem"})
    found = members["com.altastata.api.AltaStataFileSystem"]
    assert ("deletePaths", 3) in found
    assert ("getFileInputStream", 5) in found
    assert not any(name == "deleteFilesByPaths" for name, _ in found)
    assert not any(name == "<init>" for name, _ in found)  # its constructors are not public

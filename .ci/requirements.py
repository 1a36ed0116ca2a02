"""Print the requirements CI's extra venvs install, read from setup.cfg, one per line.

``requirements.py NAME...``: the engine's own requirements plus each named extra, without the
engine itself (its editable install writes ``engine.egg-info`` into the checkout, so CI makes
those one at a time while these run in the background). ``--without PACKAGE`` (repeatable) leaves
a package out: the unit and stateful suites need neither the embedded broker nor the browser.
"""

from __future__ import annotations

import argparse
import configparser
import re
import sys
from pathlib import Path

SETUP_CFG = Path(__file__).resolve().parents[1] / "setup.cfg"


def requirement_lines(value: str) -> list[str]:
    """The requirements of a setup.cfg list value (comments and blank lines dropped)."""
    lines = (line.split("#", 1)[0].strip() for line in value.splitlines())
    return [line for line in lines if line]


def package_name(requirement: str) -> str:
    """The normalised distribution name a requirement line starts with."""
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    if match is None:
        raise ValueError(f"setup.cfg: cannot read a package name from {requirement!r}")
    return re.sub(r"[-_.]+", "-", match.group(0)).lower()


def requirements(extras: list[str], without: list[str]) -> list[str]:
    """install_requires plus ``extras``, minus the packages named in ``without``, deduplicated."""
    config = configparser.ConfigParser()
    config.read(SETUP_CFG)
    known = config["options.extras_require"]
    missing = [extra for extra in extras if extra not in known]
    if missing:
        raise SystemExit(f"setup.cfg has no extra {', '.join(missing)} (it has {', '.join(known)})")
    left_out = {package_name(name) for name in without}
    chosen: dict[str, str] = {}
    for value in [config["options"]["install_requires"], *(known[extra] for extra in extras)]:
        for requirement in requirement_lines(value):
            if package_name(requirement) not in left_out:
                chosen.setdefault(package_name(requirement), requirement)
    return list(chosen.values())


def main() -> None:
    """Parse the command line and print the requirements."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("extras", nargs="+", metavar="EXTRA")
    parser.add_argument("--without", action="append", default=[], metavar="PACKAGE")
    arguments = parser.parse_args()
    sys.stdout.write("".join(f"{line}\n" for line in requirements(arguments.extras,
                                                                  arguments.without)))


if __name__ == "__main__":
    main()

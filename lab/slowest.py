"""Print the slowest tests and molecule scenarios of a `./dev test` run, so a slowdown is seen when it comes.

Reads the JUnit XML files pytest wrote (one per phase) and the `<seconds> <scenario>` lines the molecule
runner wrote, from the folder given; prints the slowest N of all of them as one table.
"""

from __future__ import annotations

import argparse
import xml.etree.ElementTree as ET
from pathlib import Path


def durations(folder: Path) -> list[tuple[float, str]]:
    found = []
    for report in sorted(folder.glob("junit-*.xml")):
        phase = report.stem.removeprefix("junit-")
        for case in ET.parse(report).getroot().iter("testcase"):
            name = f"{case.get('classname', '')}::{case.get('name', '')}".strip(":")
            found.append((float(case.get("time") or 0), f"{phase}: {name}"))
    scenarios = folder / "molecule-durations.txt"
    if scenarios.exists():
        for line in scenarios.read_text().splitlines():
            seconds, scenario = line.split(" ", 1)
            found.append((float(seconds), f"molecule: {scenario}"))
    return sorted(found, reverse=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args()
    rows = durations(args.folder)[: args.top]
    if not rows:
        print("no test durations recorded")
        return
    print(f"the slowest {len(rows)} tests and scenarios:")
    for seconds, name in rows:
        print(f"  {int(seconds) // 60:3d} min {int(seconds) % 60:2d} s  {name}")


if __name__ == "__main__":
    main()

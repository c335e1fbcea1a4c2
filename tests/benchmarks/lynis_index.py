# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark (not a test): lynis's hardening index of provisioned lab hosts, the CIS-style audit users compare
this collection's host hardening with.

On each host it installs lynis (Debian's package, through the lab's package cache), runs
`lynis audit system --quick`, reads the index, warnings and suggestions from its report, then purges lynis and its
report and log, so the host is left as site.yml made it. Prints a line per host and the warnings in full.

    .venv/bin/python tests/benchmarks/lynis_index.py [HOST ...]     (default: lb1 app1 worker1 db1 cache1 mon1)
"""

import argparse
import sys

from labload import on_host

REPORT = "/var/log/lynis-report.dat"
APT = "DEBIAN_FRONTEND=noninteractive apt-get -y -q"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("hosts", nargs="*", default=["lb1", "app1", "worker1", "db1", "cache1", "mon1"])
    return parser.parse_args()


def audit(host):
    """lynis's report of one host as (key, value) pairs; lynis is installed for the audit and removed after it."""
    on_host(host, f"{APT} install --no-install-recommends lynis >/dev/null")
    try:
        on_host(host, "lynis audit system --quick --no-colors >/dev/null 2>&1")
        report = on_host(host, f"cat {REPORT}")
    finally:
        on_host(host, f"{APT} purge lynis >/dev/null; rm -f {REPORT} /var/log/lynis.log")
    return [tuple(line.split("=", 1)) for line in report.splitlines() if "=" in line and not line.startswith("#")]


def main():
    args = parse_args()
    print(f"{'host':10}{'index':>7}{'tests':>7}{'warnings':>10}{'suggestions':>13}")
    warnings = []
    for host in args.hosts:
        report = audit(host)
        values = dict(report)
        host_warnings = [value for key, value in report if key == "warning[]"]
        suggestions = [value for key, value in report if key == "suggestion[]"]
        print(
            f"{host:10}{values.get('hardening_index', '?'):>7}{values.get('lynis_tests_done', '?'):>7}"
            f"{len(host_warnings):>10}{len(suggestions):>13}",
            flush=True,
        )
        warnings += [f"{host}: {warning}" for warning in host_warnings]
    if warnings:
        print("\nwarnings (test|text|details|solution):")
        print("\n".join(warnings))
    return 0


if __name__ == "__main__":
    sys.exit(main())

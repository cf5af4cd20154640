"""The table `make load` prints, from the summary the locustfile writes (no locust import,
so scripts/load.sh can render it outside locust's gevent world)."""

import json
import sys
from typing import Any


def render(summary: dict[str, Any]) -> str:
    header = (
        f"{'':44} {'count':>8} {'fails':>6} {'per s':>8} "
        f"{'p50':>7} {'p90':>7} {'p95':>7} {'p99':>7} {'max':>8}  (ms)"
    )

    def line(row: dict[str, Any]) -> str:
        return (
            f"{row['name'][:44]:44} {row['requests']:>8} {row['failures']:>6} "
            f"{row['per_second']:>8.2f} {row['p50_ms']:>7.1f} {row['p90_ms']:>7.1f} "
            f"{row['p95_ms']:>7.1f} {row['p99_ms']:>7.1f} {row['max_ms']:>8.1f}"
        )

    rows = ["HTTP requests", header, *map(line, summary["http"]), line(summary["http_total"])]
    rows += ["", "Observer delivery (event timestamp -> received)", header]
    if summary["delivery"]:
        delivery = summary["delivery"]
        rows.append(line(delivery))
        if delivery["failures"]:
            rows.append(f"  ({delivery['failures']} failures = stream reconnects)")
    else:
        rows.append("  no live event reached the observers")
    return "\n".join(rows)


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as handle:
        print(render(json.load(handle)))

"""Run one benchmark: `python -m bench <name> [--size N] [--json] [--database-url URL]`.

Each benchmark is a module `bench/<name with - as _>.py` exposing `add_arguments(parser)` (optional) and
`run(args) -> dict`. The result is printed as readable lines, and the last line is always one JSON object
with at least: name, size, metric, value, baseline, ratio, target.
"""

import argparse
import importlib
import json
import sys
import time

REQUIRED = ("name", "size", "metric", "value", "baseline", "ratio", "target")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-"):
        print(__doc__)
        return 2
    name = argv[0]
    module_name = {"import": "import_"}.get(name, name.replace("-", "_"))  # `import` is a keyword
    module = importlib.import_module(f"bench.{module_name}")
    parser = argparse.ArgumentParser(prog=f"python -m bench {name}")
    parser.add_argument("--size", type=int, default=getattr(module, "DEFAULT_SIZE", 10_000))
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    parser.add_argument("--database-url", default=None, help="default: $BENCH_DATABASE_URL or var/bench.sqlite3")
    if hasattr(module, "add_arguments"):
        module.add_arguments(parser)
    args = parser.parse_args(argv[1:])
    started = time.perf_counter()
    result = module.run(args)
    result.setdefault("name", name)
    result.setdefault("size", args.size)
    result["seconds"] = round(time.perf_counter() - started, 1)
    missing = [key for key in REQUIRED if key not in result]
    if missing:
        raise SystemExit(f"benchmark {name} did not report {missing}")
    if not args.json:
        for key, value in result.items():
            if key not in REQUIRED and not isinstance(value, dict | list):
                print(f"{key}: {value}")
            elif isinstance(value, dict | list):
                print(f"{key}: {json.dumps(value, ensure_ascii=False)}")
    print(json.dumps(result, ensure_ascii=False, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

#!/usr/bin/env python3
"""Regenerates docs/query-guide.md with real outputs of the frocket CLI.

Usage (from the repository root, after `make build`):
    python3 docs/guide/make_query_guide.py [path/to/frocket]
"""
import json
import os
import subprocess
import sys
import shutil

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.environ.get("CARGO_TARGET_DIR", "/var/tmp/frocket-target"), "debug", "frocket")
WORK = "/tmp/frocket-guide"
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
ENV = dict(os.environ, FROCKET_HOME=os.path.join(WORK, "home"))
DATA = os.path.join(WORK, "data")

out = []


def sh(args, show=None, output="table"):
    cmd = [BIN, "--output", output] + args
    r = subprocess.run(cmd, env=ENV, capture_output=True, text=True)
    shown = show or "frocket " + " ".join(args)
    text = (r.stdout + r.stderr).rstrip()
    out.append(f"```console\n$ {shown}\n{text}\n```\n")
    return r


def query(title, text, q, output="table", args=(), heading="##"):
    out.append(f"{heading} {title}\n\n{text}\n")
    out.append("```json\n" + compact(q) + "\n```\n")
    path = os.path.join(WORK, "q.json")
    with open(path, "w") as f:
        json.dump(q, f)
    extra = list(args)
    sh(["run", "retail", "--file", path] + extra,
       show=" ".join(["frocket run retail --file q.json"] + extra), output=output)


def compact(v, ind=0):
    """JSON with arrays of scalars (filters, targets) kept on one line."""
    pad = "  " * (ind + 1)
    if isinstance(v, dict):
        if not v:
            return "{}"
        items = [f'{pad}{json.dumps(k)}: {compact(x, ind + 1)}' for k, x in v.items()]
        return "{\n" + ",\n".join(items) + "\n" + "  " * ind + "}"
    if isinstance(v, list):
        if all(not isinstance(x, (dict, list)) for x in v) or all(isinstance(x, list) for x in v):
            return json.dumps(v)
        items = [pad + compact(x, ind + 1) for x in v]
        return "[\n" + ",\n".join(items) + "\n" + "  " * ind + "]"
    return json.dumps(v)


def p(text):
    out.append(text + "\n")


p("""# Query guide

A walk through the query language (`../shared/spec/query-language.md` is the contract) on the
generated retail dataset, with real outputs of the `frocket` CLI. Regenerate this page with
`python3 docs/guide/make_query_guide.py` after `make build`.

## The dataset

`frocket dataprep generate` writes a deterministic retail-like activity dataset: users with a
heavy-tailed number of sessions, events `view` → `addtocart` → `transaction` with realistic
drop-off, item ids, a low-cardinality `category`, `price` (2% null), `available`, a
`transactionid` (null unless a transaction), the user's `device`, and a small `tags` list.""")
sh(["dataprep", "generate", "--out", DATA, "--users", "20000", "--parts", "2"],
   show="frocket dataprep generate --out /tmp/frocket-guide/data --users 20000 --parts 2")
p("Register it: the group id column is `userid`, the timestamp column `timestamp` (ms).")
sh(["register", "retail", DATA, "userid", "timestamp", "--timestamp-unit", "ms"],
   show="frocket register retail /tmp/frocket-guide/data userid timestamp --timestamp-unit ms")
sh(["schema", "retail"])

query("The empty query", "`{}` counts every group (user) and row.", {})

query("Conditions with count targets",
      "A filter condition matches users with at least one matching row by default; a target changes "
      "the count. Here: users with 3 or more add-to-carts.",
      {"query": {"conditions": [{"filter": ["event", "==", "addtocart"], "target": ["count", ">=", 3]}]}})

query("Zero counts: includeZero",
      "Users with *fewer than 2* transactions, including users with none (`includeZero`). A target "
      "that only zero satisfies (`[\"count\", \"==\", 0]`) implies it.",
      {"query": {"conditions": [{"filter": ["event", "==", "transaction"], "target": ["count", "<", 2],
                                 "includeZero": True}]}})

query("Sum targets and several filters on one row",
      "`filters` are AND-ed on the same row; a sum target sums a numeric column over the matching rows. "
      "Users who added more than 500 worth of available items to their cart:",
      {"query": {"conditions": [{"filters": [["event", "==", "addtocart"], ["available", "==", True]],
                                 "target": ["sum", "price", ">", 500]}]}})

query("Relations: and, or, not, names",
      "Conditions combine with `and` (default), `or`, or an expression over `$index` and `$name` "
      "with `not` binding tightest. Buyers, or mobile users with many views, but never a TV user:",
      {"query": {"relation": "($buyer or ($1 and $2)) and not $tv",
                 "conditions": [{"filter": ["event", "==", "transaction"], "name": "buyer"},
                                {"filter": ["device", "==", "mobile"]},
                                {"filter": ["event", "==", "view"], "target": ["count", ">=", 20]},
                                {"filter": ["device", "==", "tv"], "name": "tv"}]}})

query("Aggregations",
      "Aggregations run over *all rows* of the matching users. Omitting `type` gives `count`, "
      "`countPerValue` and `groupsPerValue`; maps are ordered by value, cut to `top` (default 10).",
      {"query": {"conditions": [{"filter": ["event", "==", "transaction"]}],
                 "aggregations": [{"column": "device"},
                                  {"column": "category", "type": "sumPerValue", "otherColumn": "price", "top": 3},
                                  {"column": "device", "type": "meanPerValue", "otherColumn": "price", "name": "avgPrice"},
                                  {"column": "tags", "type": "countPerValue"}]}})

query("Strings: contains, regex; lists: includes",
      "`contains` is a case-sensitive substring, `regex` an unanchored search; `includes` tests list "
      "membership. Users who viewed a category ending in 5 and have a row tagged `premium` twice:",
      {"query": {"conditions": [{"filters": [["event", "==", "view"], ["category", "regex", "5$"]]},
                                {"filter": ["tags", "includes", "premium"], "target": ["count", ">=", 2]}]}})

query("Sequences",
      "A sequence condition matches users whose rows match the steps in time order (strictly "
      "increasing timestamps). With `maxDuration` the whole sequence must fit the window (here one "
      "hour); a step with `rowFound: false` must *not* happen between its neighbours. Users who added "
      "to cart and bought within an hour without viewing anything in between:",
      {"query": {"conditions": [{"sequence": [{"filter": ["event", "==", "addtocart"]},
                                              {"filter": ["event", "==", "view"], "rowFound": False},
                                              {"filter": ["event", "==", "transaction"]}],
                                 "maxDuration": 3600000}]}})

query("The funnel",
      "The funnel reports, for each step, the users who reached it and all their rows; "
      "`stepAggregations` run per step, `endAggregations` once on the last step's users.",
      {"funnel": {"sequence": [{"filter": ["event", "==", "view"]},
                               {"filter": ["event", "==", "addtocart"]},
                               {"filter": ["event", "==", "transaction"]}],
                  "maxDuration": 86400000,
                  "stepAggregations": [{"column": "device", "type": "countPerValue"}],
                  "endAggregations": [{"column": "category", "type": "countPerValue", "top": 3}]}})

p("""## Sequence options

Four options refine a sequence (a sequence condition or the funnel); each is optional and a
query without them means what it meant before. Durations are in the timestamp's unit (here ms).""")

query("Time limit per step: within",
      "`within` on a positive step (not the first) bounds the time from the previous positive step's "
      "row: a view, an add-to-cart within 10 minutes of it, a purchase within an hour of the "
      "add-to-cart. Unlike `maxDuration` (one window for the whole chain) each step has its own. The "
      "engine finds a chain whenever one exists, even when the earliest next row is not the right one.",
      {"funnel": {"sequence": [{"filter": ["event", "==", "view"]},
                               {"filter": ["event", "==", "addtocart"], "within": 600000},
                               {"filter": ["event", "==", "transaction"], "within": 3600000}]}},
      heading="###")

query("Same property along the chain: holdConstant",
      "`holdConstant` lists 1 to 4 columns whose value every row of a chain shares: here the user "
      "viewed, added to cart and bought *the same item*. Negative steps and strict order are judged "
      "on that value's rows only; rows with a null in a held column join no chain. A step still "
      "reports all rows of the users who reached it.",
      {"funnel": {"sequence": [{"filter": ["event", "==", "view"]},
                               {"filter": ["event", "==", "addtocart"]},
                               {"filter": ["event", "==", "transaction"]}],
                  "holdConstant": ["itemid"],
                  "stepAggregations": [{"column": "device", "type": "groupsPerValue"}]}},
      heading="###")

query("Nothing in between: order strict",
      "`\"order\": \"strict\"` makes consecutive steps neighbours: no other row of the user (with "
      "`holdConstant`, of the held value) lies strictly between them. Users who bought right after "
      "adding to cart, with no other event in between:",
      {"query": {"conditions": [{"sequence": [{"filter": ["event", "==", "addtocart"]},
                                              {"filter": ["event", "==", "transaction"]}],
                                 "order": "strict"}],
                 "aggregations": [{"column": "device", "type": "countPerValue"}]}},
      heading="###")

query("Time to convert: conversionTime",
      "On the funnel, `conversionTime` reports per step the distribution of the time from the first "
      "step to that step, on each user's first conversion: count, min, max and mean exactly, median, "
      "p90 and p99 within 1% (a mergeable sketch: parts cannot ship every time), and a histogram "
      "when `bins` are given. The dataset was registered with its unit (`--timestamp-unit ms`), so "
      "the table shows durations (`--time-unit` overrides it); the JSON stays in the timestamp's unit.",
      {"funnel": {"sequence": [{"filter": ["event", "==", "view"]},
                               {"filter": ["event", "==", "addtocart"]},
                               {"filter": ["event", "==", "transaction"]}],
                  "holdConstant": ["itemid"],
                  "conversionTime": {"bins": ["1m", "10m", "1h", "1d"]}}},
      heading="###")

query("Durations and dates",
      "A dataset that knows its timestamp unit (a Parquet TIMESTAMP column, or `--timestamp-unit` at "
      "registration; `frocket schema` shows it) takes durations as strings — `\"90s\"`, `\"1.5h\"`, "
      "`\"7d\"` (units `ms`, `s`, `m`, `h`, `d`, `w`), converted exactly, an error when not a whole "
      "number of an integer column's unit — for `maxDuration`, `within` and `bins`, and timeframe "
      "bounds as ISO-8601 date-times with an offset or `Z`, or dates (midnight UTC). Numbers still work.",
      {"timeframe": {"from": "2020-09-14", "to": "2020-09-21T00:00:00+02:00"},
       "funnel": {"sequence": [{"filter": ["event", "==", "view"]},
                               {"filter": ["event", "==", "addtocart"], "within": "30m"}],
                  "maxDuration": "1d", "conversionTime": {"bins": ["5m", "15m"]}}})

query("Timeframe",
      "`timeframe` drops rows outside `[from, to)` before anything else (and is pushed down to the "
      "Parquet reader). Its unit must be the timestamp column's: a bound with the wrong number of "
      "digits is rejected.",
      {"timeframe": {"from": 1600500000000, "to": 1601000000000},
       "funnel": {"sequence": [{"filter": ["event", "==", "addtocart"]}, {"filter": ["event", "==", "transaction"]}]}})

p("## Results as JSON\n\n`--output json` prints the API's response envelope (`success`, `requestId`, `query`, "
  "`funnel`, `stats`):")
sh(["run", "retail", "--string", '{"query": {"aggregations": [{"column": "event", "type": "countPerValue"}]}}'],
   show="frocket --output json run retail --string '{\"query\": {\"aggregations\": [{\"column\": \"event\", \"type\": \"countPerValue\"}]}}'",
   output="json")

p("## Results as CSV\n\n`--output csv` prints one tidy table (`scope`, `step`, `metric`, `column`, `key`, "
  "`value`) with full precision, ready for a spreadsheet or `pandas.read_csv`; tables round numbers "
  "for people (`1,234.57`) and JSON and CSV keep every digit. A progress bar (tasks, rows, elapsed) "
  "shows on stderr only for tables on a terminal.")
sh(["run", "retail", "--string", '{"funnel": {"sequence": [{"filter": ["event", "==", "view"]}, {"filter": ["event", "==", "addtocart"]}], '
    '"endAggregations": [{"column": "device", "type": "sumPerValue", "otherColumn": "price"}]}}'],
   show="frocket --output csv run retail --string '{\"funnel\": {\"sequence\": [{\"filter\": [\"event\", \"==\", \"view\"]}, "
        "{\"filter\": [\"event\", \"==\", \"addtocart\"]}], \"endAggregations\": [{\"column\": \"device\", \"type\": \"sumPerValue\", \"otherColumn\": \"price\"}]}}'",
   output="csv")

p("## Shell completions and the man page\n\n`frocket completions bash|zsh|fish|elvish|powershell` prints a completion "
  "script (`frocket completions bash > /etc/bash_completion.d/frocket`), `frocket man` the man page "
  "(`frocket man > frocket.1 && man ./frocket.1`), `frocket --version` the version and git commit.")

p("## Errors\n\nA query is validated in full before it runs; every error names its JSON path:")
sh(["run", "retail", "--string",
    '{"query": {"conditions": [{"filter": ["evnt", "==", "view"]}, {"filter": ["price", "contains", "x"]}], "relation": "$0 and $2"}}'],
   show="frocket run retail --string '{\"query\": {\"conditions\": [{\"filter\": [\"evnt\", \"==\", \"view\"]}, "
        "{\"filter\": [\"price\", \"contains\", \"x\"]}], \"relation\": \"$0 and $2\"}}'")

with open(os.path.join(ROOT, "docs", "query-guide.md"), "w") as f:
    f.write("\n".join(out))
print("wrote docs/query-guide.md")

"""DuckDB side of `make bench`: the benchmark queries as SQL, timed (best of N).

Usage: python3 duckdb_bench.py DATA_GLOB THREADS REPEATS
Prints one JSON object per query: {"name", "seconds", "summary"}.
"""
import json
import sys
import time

import duckdb

glob, threads, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
con = duckdb.connect()
con.execute(f"SET threads={threads}")
con.execute(f"CREATE VIEW t AS SELECT * FROM read_parquet('{glob}')")

QUERIES = {
    "empty": "SELECT count(DISTINCT userid) AS groups, count(*) AS rows FROM t",
    "funnel3_step_aggs": """
        WITH s0 AS (SELECT userid, min(timestamp) AS t0 FROM t WHERE event = 'view' GROUP BY userid),
        s1 AS (SELECT t.userid, min(t.timestamp) AS t1 FROM t JOIN s0 USING (userid)
               WHERE t.event = 'addtocart' AND t.timestamp > s0.t0 GROUP BY t.userid),
        s2 AS (SELECT t.userid FROM t JOIN s1 USING (userid)
               WHERE t.event = 'transaction' AND t.timestamp > s1.t1 GROUP BY t.userid),
        steps AS (SELECT 0 AS step, userid FROM s0 UNION ALL SELECT 1, userid FROM s1 UNION ALL SELECT 2, userid FROM s2)
        SELECT step, 'device' AS col, device::VARCHAR AS value, count(*) AS n FROM t JOIN steps USING (userid) GROUP BY ALL
        UNION ALL
        SELECT step, 'category', category::VARCHAR, count(DISTINCT userid) FROM t JOIN steps USING (userid) GROUP BY ALL
        UNION ALL
        SELECT step, 'groups', NULL, count(*) FROM steps GROUP BY step
    """,
    "conditions_relation": """
        WITH g AS (
          SELECT userid,
                 count(*) FILTER (WHERE event = 'transaction') AS c0,
                 count(*) FILTER (WHERE event = 'addtocart') AS n1,
                 coalesce(sum(price) FILTER (WHERE event = 'addtocart'), 0) AS s1,
                 count(*) FILTER (WHERE device = 'tv') AS c2
          FROM t GROUP BY userid),
        m AS (SELECT userid FROM g WHERE c0 >= 1 AND ((n1 > 0 AND s1 >= 100) OR NOT (c2 >= 1)))
        SELECT category::VARCHAR AS value, count(*) AS n FROM t WHERE userid IN (SELECT userid FROM m) GROUP BY ALL
        UNION ALL SELECT '#groups', count(*) FROM m
    """,
    "sequence_window_negative": """
        SELECT count(DISTINCT a.userid) AS groups
        FROM t a JOIN t x ON a.userid = x.userid AND x.timestamp > a.timestamp AND x.timestamp - a.timestamp <= 3600000
        WHERE a.event = 'addtocart' AND x.event = 'transaction'
          AND NOT EXISTS (SELECT 1 FROM t v WHERE v.userid = a.userid AND v.event = 'view'
                          AND v.timestamp > a.timestamp AND v.timestamp < x.timestamp)
    """,
}

for name, sql in QUERIES.items():
    best, rows = None, None
    for _ in range(repeats):
        start = time.perf_counter()
        rows = con.execute(sql).fetchall()
        took = time.perf_counter() - start
        best = took if best is None else min(best, took)
    if name == "empty":
        summary = {"groups": rows[0][0], "rows": rows[0][1]}
    elif name == "funnel3_step_aggs":
        summary = {"stepGroups": sorted([r[3] for r in rows if r[1] == "groups"], reverse=True)}
    elif name == "conditions_relation":
        summary = {"groups": [r[1] for r in rows if r[0] == "#groups"][0]}
    else:
        summary = {"groups": rows[0][0]}
    print(json.dumps({"name": name, "seconds": best, "summary": summary}), flush=True)

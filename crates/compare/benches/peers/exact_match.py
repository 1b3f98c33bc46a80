#!/usr/bin/env python3
"""Peer side of the `medical_oop_monitored` benchmark: the exact-match job in DuckDB or Polars.

Usage: python exact_match.py {duckdb|polars} ROSTER.csv CLAIMS.csv AS_OF

  ROSTER.csv  UTF-8, header 户编号,乡镇,村,姓名,身份证号,与户主关系,户类型
  CLAIMS.csv  UTF-8, header 身份证号,姓名,结算日期,总费用,个人自付
  AS_OF       YYYY-MM-DD

The job, as our engine's rule does it but with exact matching only (no ID normalisation:
claim IDs are compared with roster IDs byte for byte, as strings):
  - claims rows whose 身份证号 is in the roster (a semi join: a roster ID listed twice
    does not double a claim) -> matched_rows, counted before the date filter;
  - of those, rows with AS_OF - 365 days < 结算日期 <= AS_OF, 个人自付 summed exactly per
    person; persons with a sum >= 5000 -> flagged_persons.

Prints one JSON line: {"engine": ..., "seconds": ..., "matched_rows": N, "flagged_persons": M,
"peak_kib": K}.
"seconds" is the wall time of reading and parsing both CSV files from disk, the join and the
aggregation; interpreter and library start-up are outside it.

Polars runs on its streaming engine; PEERS_POLARS_ENGINE=in-memory picks the other one.
"""

import datetime as dt
import json
import os
import resource
import sys
import time

ROSTER_COLUMNS = ["户编号", "乡镇", "村", "姓名", "身份证号", "与户主关系", "户类型"]
CLAIMS_COLUMNS = ["身份证号", "姓名", "结算日期", "总费用", "个人自付"]
ID, DATE, OOP = "身份证号", "结算日期", "个人自付"
WINDOW_DAYS = 365
THRESHOLD = 5000


def check_header(path, expected):
    """Both engines are given the full column list; make sure the file has those columns in
    that order (DuckDB's `columns` is positional and would not notice a reordered file)."""
    with open(path, "rb") as f:
        line = f.readline()
    header = line.decode("utf-8").lstrip("\ufeff").rstrip("\r\n")
    names = [n.strip().strip('"') for n in header.split(",")]
    if names != expected:
        sys.exit(f"{path}: header is {names}, expected {expected}")


def run_duckdb(roster, claims, as_of):
    import duckdb

    con = duckdb.connect(":memory:")
    con.execute(f"SET threads TO {os.cpu_count() or 1}")
    con.execute("SET preserve_insertion_order = false")

    def reader(path, columns):
        cols = ", ".join(f"'{name}': '{typ}'" for name, typ in columns)
        path_sql = path.replace("'", "''")
        return (
            f"read_csv('{path_sql}', header = true, auto_detect = false, delim = ',', "
            f"quote = '\"', escape = '\"', columns = {{{cols}}})"
        )

    roster_sql = reader(roster, [(c, "VARCHAR") for c in ROSTER_COLUMNS])
    claims_sql = reader(
        claims,
        [
            (ID, "VARCHAR"),
            ("姓名", "VARCHAR"),
            (DATE, "DATE"),
            ("总费用", "DECIMAL(12,2)"),
            (OOP, "DECIMAL(12,2)"),
        ],
    )
    start_day = as_of - dt.timedelta(days=WINDOW_DAYS)
    query = f"""
        WITH per_person AS (
            SELECT c."{ID}" AS id,
                   count(*) AS n,
                   sum(c."{OOP}") FILTER (
                       WHERE c."{DATE}" > DATE '{start_day.isoformat()}'
                         AND c."{DATE}" <= DATE '{as_of.isoformat()}') AS oop
            FROM {claims_sql} AS c
            SEMI JOIN {roster_sql} AS r ON c."{ID}" = r."{ID}"
            GROUP BY c."{ID}"
        )
        SELECT coalesce(sum(n), 0)::BIGINT,
               count(*) FILTER (WHERE oop >= {THRESHOLD})
        FROM per_person
    """
    start = time.perf_counter()
    matched, flagged = con.execute(query).fetchone()
    seconds = time.perf_counter() - start
    con.close()
    return seconds, int(matched), int(flagged)


def run_polars(roster, claims, as_of):
    import polars as pl

    roster_lf = pl.scan_csv(
        roster,
        schema={c: pl.String for c in ROSTER_COLUMNS},
        infer_schema=False,
    ).select(ID)
    claims_lf = pl.scan_csv(
        claims,
        schema={
            ID: pl.String,
            "姓名": pl.String,
            DATE: pl.Date,
            "总费用": pl.Decimal(12, 2),
            OOP: pl.Decimal(12, 2),
        },
        infer_schema=False,
    ).select(ID, DATE, OOP)
    start_day = as_of - dt.timedelta(days=WINDOW_DAYS)
    in_window = (pl.col(DATE) > start_day) & (pl.col(DATE) <= as_of)
    query = (
        claims_lf.join(roster_lf, on=ID, how="semi")
        .group_by(ID)
        .agg(
            pl.len().alias("n"),
            pl.col(OOP).filter(in_window).sum().alias("oop"),
        )
        .select(
            pl.col("n").sum().cast(pl.Int64).alias("matched"),
            (pl.col("oop") >= THRESHOLD).sum().cast(pl.Int64).alias("flagged"),
        )
    )
    start = time.perf_counter()
    out = query.collect(engine=os.environ.get("PEERS_POLARS_ENGINE", "streaming"))
    seconds = time.perf_counter() - start
    matched, flagged = out.row(0)
    return seconds, int(matched or 0), int(flagged or 0)


def main(argv):
    if len(argv) != 5 or argv[1] not in ("duckdb", "polars"):
        sys.exit(__doc__.split("\n\n")[1])
    engine, roster, claims = argv[1], argv[2], argv[3]
    as_of = dt.date.fromisoformat(argv[4])
    check_header(roster, ROSTER_COLUMNS)
    check_header(claims, CLAIMS_COLUMNS)
    run = run_duckdb if engine == "duckdb" else run_polars
    seconds, matched, flagged = run(roster, claims, as_of)
    print(
        json.dumps(
            {
                "engine": engine,
                "seconds": round(seconds, 3),
                "matched_rows": matched,
                "flagged_persons": flagged,
                # Peak resident memory of the process (Linux reports KiB).
                "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main(sys.argv)

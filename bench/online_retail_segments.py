"""Real-data check of the segments code on UCI Online Retail (CC BY 4.0; read from ../shared/data, never copied).

    python bench/online_retail_segments.py --data ../shared/data/online_retail

Cleans the transaction log with the importer's `--transactions` mapping (customers present, positive quantity
and price, no cancellations, exact duplicate lines dropped), loads the orders into a temporary DuckDB file through
the normal import path, then computes RFM in SQL, the clusterings (KMeans and Gaussian mixture, k = 2..10) and the
cluster profiles. Prints customers, lines dropped per reason, silhouette by k, the chosen k and the profiles.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dashboard import db  # noqa: E402
from dashboard.importer import import_files  # noqa: E402
from ml.segments import SEGMENTS, cluster_customers, rfm_table  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Run the check and print its report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/online_retail"),
                        help="folder holding online_retail.parquet")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    source = args.data / "online_retail.parquet" if args.data.is_dir() else args.data
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        engine = db.make_engine(f"duckdb:///{Path(tmp) / 'retail.duckdb'}")
        report = import_files(engine, transactions=source).files[0]
        print(f"lines read: {report.read:,}")
        for reason, count in report.dropped.items():
            print(f"  dropped ({reason}): {count:,}")
        with engine.connect() as conn:
            table = rfm_table(conn)  # O = date of the last order
            orders = conn.execute(sa.select(sa.func.count(), sa.func.sum(db.orders.c.revenue),
                                            sa.func.max(db.orders.c.event_dt))).one()
        engine.dispose()
    print(f"orders (invoices): {orders[0]:,}; revenue {orders[1]:,.2f}; observation date {orders[2]:%Y-%m-%d}")
    print(f"customers: {len(table):,}")
    print("\nRFM segments:")
    counts = table["segment"].value_counts().reindex(SEGMENTS, fill_value=0)
    revenue = table.groupby("segment")["monetary"].sum().reindex(SEGMENTS, fill_value=0)
    print(pd.DataFrame({"customers": counts, "revenue_share": (revenue / revenue.sum()).round(4)}).to_string())
    result = cluster_customers(table, seed=args.seed)
    print("\nsilhouette by k (log-scaled, standardised R, F, M):")
    scores = result.scores.pivot(index="k", columns="algorithm", values="silhouette").round(4)
    scores["kmeans_inertia"] = result.scores[result.scores.algorithm == "kmeans"].set_index("k")["inertia"].round(1)
    print(scores.to_string())
    print(f"\nchosen: KMeans with k={result.k} (highest silhouette)")
    print(f"cluster classifier accuracy on held-out customers (25%): {result.classifier_accuracy:.4f}")
    profiles = result.profiles.copy()
    print("\ncluster profiles:")
    print(profiles.round({"share": 4, "mean_recency_days": 1, "mean_frequency": 2, "mean_monetary": 2,
                          "revenue_share": 4}).to_string(index=False))
    print(f"\nonline_retail: customers={len(table)} k={result.k} seconds={time.perf_counter() - started:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

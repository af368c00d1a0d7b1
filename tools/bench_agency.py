"""Agency linking at national scale: link N distinct synthetic agency names (default 100,000) on one core.

    python tools/bench_agency.py [--n 100000] [--seed 1]

Names follow the printed forms of real bodies: province / prefecture / county prefixes, towns, townships and
street offices, departments and government offices, with the forms a body's name takes from year to year
(``…人民政府``, ``…政府``, a space, no region prefix) and town names that recur under several counties, so
the linking meets exact matches, suffix links, ambiguous region-less names and same-year clashes.
``synthetic_reports`` is also used by tests/test_agency.py to compare the blocked linking with the
all-pairs one it replaced.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Characters place names are made of (common in real ones); two or three of them make a name.
_CHARS = ("东南西北中上下前后新老大小长平安宁和兴华江河湖山川林泉石桥水口岭坪沟湾塘溪岗营庄集店铺镇"
          "阳明光星月金银铜铁玉宝丰富贵福寿康乐永定昌盛利泰清源洪泽柳杨松柏桦桃李梅兰竹菊青红白黄")
_PROVINCE_END = ("省",)
_PREFECTURE_END = ("市", "州", "盟")
_COUNTY_END = ("县", "区", "市", "旗")
_LOCAL_END = ("镇", "乡", "街道")
_DEPARTMENTS = ("发展和改革委员会", "教育局", "公安局", "民政局", "财政局", "自然资源局", "生态环境局",
                "住房和城乡建设局", "交通运输局", "水利局", "农业农村局", "卫生健康委员会", "市场监督管理局")


def _name(rng: random.Random, k: int) -> str:
    return "".join(rng.choice(_CHARS) for _ in range(k))


def synthetic_names(n: int, seed: int = 1) -> list[str]:
    """Return ``n`` distinct agency names as printed (each a different body or a different printed form)."""
    rng = random.Random(seed)
    provinces = [_name(rng, 2) + "省" for _ in range(30)]
    prefectures = [(p, _name(rng, 2) + rng.choice(_PREFECTURE_END)) for p in provinces for _ in range(12)]
    counties = [(p, f, _name(rng, 2) + rng.choice(_COUNTY_END)) for p, f in prefectures for _ in range(8)]
    towns = [_name(rng, 2) for _ in range(4000)]  # recur under several counties: region-less forms are ambiguous
    out: set[str] = set()
    while len(out) < n:
        p, f, c = rng.choice(counties)
        roll = rng.random()
        if roll < 0.6:
            body = rng.choice(towns) + rng.choice(_LOCAL_END)
            prefix = rng.choice((c, f + c, p + f + c))
        elif roll < 0.85:
            body = rng.choice(_DEPARTMENTS)
            prefix = rng.choice((c, f + c, f))
        else:
            body, prefix = "", rng.choice((c, f + c, f, p))
        form = rng.random()
        if body == "":
            name = prefix + rng.choice(("人民政府", "政府", "人民政府办公室", "政府办公厅"))
        elif form < 0.15:
            name = body if body not in _DEPARTMENTS else prefix + body  # no region prefix
        elif form < 0.3:
            name = prefix + " " + body + "人民政府"
        else:
            name = prefix + body + rng.choice(("", "人民政府", "政府")) * (body[-1] in "镇乡")
        out.add(name)
    return sorted(out)


def synthetic_reports(n: int, seed: int = 1, years: tuple[int, ...] = (2021, 2022, 2023)
                      ) -> list[tuple[str, int, str | None]]:
    """(report_id, report_year, agency) rows: each name reports for one or two of ``years``; a few lack a name."""
    rng = random.Random(seed + 1)
    rows: list[tuple[str, int, str | None]] = []
    for i, name in enumerate(synthetic_names(n, seed)):
        for year in rng.sample(years, rng.choice((1, 1, 2))):
            rows.append((f"r{i:06d}-{year}", year, name))
    rows += [(f"none{i}", years[0], None) for i in range(max(1, n // 1000))]
    return rows


def main(argv: list[str] | None = None) -> int:
    from nianbao.bi.agency import agency_key, link_agencies

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000, help="distinct agency names (default 100000)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    t0 = time.process_time()
    rows = synthetic_reports(args.n, args.seed)
    t_gen = time.process_time() - t0
    t1, w1 = time.process_time(), time.perf_counter()
    links = link_agencies(rows)
    cpu, wall = time.process_time() - t1, time.perf_counter() - w1
    statuses: dict[str, int] = {}
    for k in links:
        statuses[k.status] = statuses.get(k.status, 0) + 1
    print(json.dumps({
        "names": args.n, "reports": len(rows), "distinct_keys": len({agency_key(a) for _, _, a in rows if a}),
        "link_cpu_seconds": round(cpu, 2), "link_wall_seconds": round(wall, 2),
        "generate_cpu_seconds": round(t_gen, 2), "statuses": dict(sorted(statuses.items())),
    }, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Markdown table of bench/run_train_bench.sh's JSON lines: C++ vs PyTorch.

Two ratios per row, both C++ over PyTorch (above 1: C++ faster):
  wall: images per wall second, what a user sees;
  CPU:  images per CPU second (user + sys of the whole process), which a
        shared, oversubscribed machine disturbs much less than wall time.
"""
import json
import sys

rows = {}
for line in open(sys.argv[1]):
    line = line.strip()
    if line.startswith("{"):
        r = json.loads(line)
        rows.setdefault((r["threads"], r["batch"], r["cell"]), {})[r["impl"]] = r


def per_cpu_second(r):
    return r["images_per_sec"] / r["cpu_per_wall"]


print("| threads | batch | cell | C++ img/s | PyTorch img/s | ratio (wall) | C++ img/CPU-s |"
      " PyTorch img/CPU-s | ratio (CPU) | C++ peak RSS MiB | PyTorch peak RSS MiB |")
print("| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for (threads, batch, cell), r in sorted(rows.items(), key=lambda kv: (kv[0][0], kv[0][1])):
    c, p = r.get("c++"), r.get("pytorch")
    if not c or not p:
        continue
    print(f"| {threads} | {batch} | {cell} | {c['images_per_sec']:.1f} | {p['images_per_sec']:.1f} | "
          f"{c['images_per_sec'] / p['images_per_sec']:.2f} | {per_cpu_second(c):.1f} | "
          f"{per_cpu_second(p):.1f} | {per_cpu_second(c) / per_cpu_second(p):.2f} | "
          f"{c['peak_rss_mib']:.0f} | {p['peak_rss_mib']:.0f} |")

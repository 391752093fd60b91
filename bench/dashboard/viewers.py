"""N simulated dashboard viewers: each polls /api/version once a second and,
when it moved, fetches what an open campaign page fetches (campaign, trial
table page, chart points gzipped, Pareto front, importance), like the page.

usage: viewers.py URL TOKEN SECONDS N CAMPAIGN_ID [CAMPAIGN_ID ...]
Prints {"requests": n, "errors": n, "mean_ms": x} on exit.
"""
import json
import sys
import threading
import time
import urllib.request


def main():
    url, token, seconds, n = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
    campaigns = sys.argv[5:]
    stats = {"requests": 0, "errors": 0, "ms": 0.0}
    lock = threading.Lock()
    end = time.time() + seconds

    def get(path):
        req = urllib.request.Request(url + path, headers={"Authorization": "Bearer " + token,
                                                           "Accept-Encoding": "gzip"})
        t0 = time.time()
        ok = True
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                body = r.read()
        except Exception:
            ok, body = False, b""
        with lock:
            stats["requests"] += 1
            stats["errors"] += 0 if ok else 1
            stats["ms"] += (time.time() - t0) * 1000
        return body

    def viewer(i):
        campaign = campaigns[i % len(campaigns)]
        seen = None
        while time.time() < end:
            t0 = time.time()
            version = get("/api/version")
            if version != seen:
                seen = version
                for path in ("", "/trials?limit=50", "/points", "/pareto", "/importance"):
                    get(f"/api/campaigns/{campaign}{path}")
            time.sleep(max(0.0, 1.0 - (time.time() - t0)))

    threads = [threading.Thread(target=viewer, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps({"requests": stats["requests"], "errors": stats["errors"],
                      "mean_ms": round(stats["ms"] / max(1, stats["requests"]), 1)}))


if __name__ == "__main__":
    main()

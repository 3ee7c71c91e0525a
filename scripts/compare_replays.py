"""Compare two replay databases (SQLite): posts, their services, verdicts, buckets and incidents.

    python scripts/compare_replays.py before.db after.db

Authors are keyed hashes with a per-database key, so people are compared as a count, not values. Used to check
that a refactor changes nothing: replay the same file with and without the change, then compare.
"""
import sqlite3
import sys

QUERIES = {
    "posts": "SELECT source_id, created_at, text, lang FROM posts ORDER BY source_id",
    "post_services": "SELECT p.source_id, s.service FROM post_services s JOIN posts p ON p.id = s.post_id ORDER BY 1, 2",
    "verdicts": "SELECT p.source_id, v.model, v.complaint, round(v.complaint_p, 6), v.misinformation, "
                "round(v.misinformation_p, 6), v.symptom, v.claim, round(v.confidence, 6) "
                "FROM verdicts v JOIN posts p ON p.id = v.post_id ORDER BY 1",
    "distinct_people": "SELECT count(DISTINCT author) FROM posts",
    "buckets": "SELECT service, start, width_s, mentions, complaints, misinformation, people, complaint_people, "
               "round(expected, 6), round(upper, 6), round(score, 6) FROM buckets ORDER BY 1, 2",
    "incidents": "SELECT id, service, opened_at, resolved_at, status, severity, round(peak_ratio, 6), "
                 "round(peak_value, 6), round(expected, 6), reason FROM alerts ORDER BY id",
}
a, b = (sqlite3.connect(p) for p in sys.argv[1:3])
same = True
for name, query in QUERIES.items():
    ra, rb = a.execute(query).fetchall(), b.execute(query).fetchall()
    ok = ra == rb
    same &= ok
    print(f"{name:16} {len(ra):6} rows vs {len(rb):6}  {'same' if ok else 'DIFFERENT'}")
    if not ok:
        diff = [x for x in ra if x not in set(rb)][:3], [x for x in rb if x not in set(ra)][:3]
        print("   only first:", diff[0], "\n   only second:", diff[1])
print("IDENTICAL" if same else "DIFFERENT")
sys.exit(0 if same else 1)

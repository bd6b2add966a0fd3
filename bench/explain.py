"""EXPLAIN (ANALYZE, BUFFERS) of every analytics statement on the bench workspace, as the
server runs them (the SQL is read from src/analytics/*.rs; parameters and settings as the
handlers use them, with the default 90-day window).

    python3 bench/explain.py <psql command...>      # e.g. python3 bench/explain.py psql -h /path/run -U postgres -d rapport
    ONLY=rfm python3 bench/explain.py <psql command...>   # only the statements whose name holds "rfm"
"""

import glob
import os
import re
import subprocess
import sys

psql = sys.argv[1:]
only = os.environ.get("ONLY")  # e.g. ONLY=rfm: the statements whose name holds it
src = "".join(open(f).read() for f in sorted(glob.glob("src/analytics/*.rs")))
sql = {name: body for name, body in re.findall(r'const ([A-Z_]+): &str = r#"(.*?)"#;', src, re.S)}
# RFM's statements name the rollup's condition, the tile bounds (BOUND filled in for each order
# from R_BOUND and F_BOUND) and the segment rule, put in as statement() in src/analytics/rfm.rs does.
FROM_ROLLUP = re.search(r'const FROM_ROLLUP: &str =\s*"(.*?)";', src, re.S).group(1).replace("\\\n", "")
FROM_ROLLUP = re.sub(r"\s+", " ", FROM_ROLLUP)
def fill(name):
    pairs = re.search(r"const " + name + r": &\[\(&str, &str\)\] = &\[(.*?)\n\];", src, re.S).group(1)
    body = sql["BOUND"]
    for old, new in re.findall(r'\("([A-Z_]+)", "(.*?)"\)', pairs):
        body = body.replace(old, new)
    return body
R_BOUNDS, F_BOUNDS = fill("R_BOUND"), fill("F_BOUND")
SEGMENT = re.search(r'const SEGMENT: &str = "(.*?)";', src, re.S).group(1)
sql = {name: body.replace("R_BOUNDS", R_BOUNDS).replace("F_BOUNDS", F_BOUNDS).replace("FROM_ROLLUP", FROM_ROLLUP)
       .replace("SEGMENT", SEGMENT)
       for name, body in sql.items()}


def q(text):
    return subprocess.run(psql + ["-Atq", "-c", text], check=True, capture_output=True, text=True).stdout.strip()


ws = q("SELECT id FROM workspaces WHERE name = 'Bench'")
pipeline = q(f"SELECT id FROM pipelines WHERE workspace_id = '{ws}' AND name = 'Sales'")
customer = q(f"SELECT customer_id FROM interactions WHERE workspace_id = '{ws}' AND kind = 'purchase' LIMIT 1")
tz = q(f"SELECT timezone FROM workspaces WHERE id = '{ws}'")
w90 = "now() - interval '2160 hours', now()"
# The whole UTC hours of that window, as the segments' rollup path reads them (h1, h2).
h90 = "date_trunc('hour', now() - interval '2160 hours', 'UTC') + interval '1 hour', date_trunc('hour', now(), 'UTC')"
y1 = "now() - interval '365 days', now()"
cases = [
    ("funnel, 90 days", sql["FUNNEL"], "uuid, uuid, timestamptz, timestamptz, uuid, uuid", f"'{ws}', '{pipeline}', {w90}, NULL, NULL"),
    ("funnel, 3 years", sql["FUNNEL"], "uuid, uuid, timestamptz, timestamptz, uuid, uuid", f"'{ws}', '{pipeline}', now() - interval '1097 days', now(), NULL, NULL"),
    ("segments by country, 90 days", sql["SEGMENTS_FROM_HOURS"].replace("GROUPS_JSON", sql["GROUPS_JSON"]), "uuid, timestamptz, timestamptz, text, timestamptz, timestamptz", f"'{ws}', {w90}, 'country', {h90}"),
    ("segments by tag, 90 days", sql["SEGMENTS_FROM_HOURS"].replace("GROUPS_JSON", sql["GROUPS_JSON"]), "uuid, timestamptz, timestamptz, text, timestamptz, timestamptz", f"'{ws}', {w90}, 'tag', {h90}"),
    ("segments by attr.plan, 90 days (from the rows)", (sql["ACTIVITY"] + sql["SEGMENTS_BY_KEY"]).replace("GROUPS_JSON", sql["GROUPS_JSON"]), "uuid, timestamptz, timestamptz, text, text", f"'{ws}', {w90}, 'attr', 'plan'"),
    ("segments by channel, 90 days", sql["SEGMENTS_BY_CHANNEL"], "uuid, timestamptz, timestamptz", f"'{ws}', {w90}"),
    ("rfm summary", sql["RFM_BOUGHT"] + sql["RFM_BOUNDS"] + sql["RFM_SUMMARY"], "uuid, timestamptz", f"'{ws}', now()"),
    ("rfm of one customer", sql["RFM_BOUGHT"] + sql["RFM_ONE"], "uuid, timestamptz, uuid", f"'{ws}', now(), '{customer}'"),
    ("cohorts by month, 1 year", sql["COHORTS"], "uuid, timestamptz, timestamptz, text, text", f"'{ws}', {y1}, '{tz}', 'month'"),
    ("interactions by day and channel, 90 days", sql["SERIES"], "uuid, timestamptz, timestamptz, text, text, text", f"'{ws}', {w90}, '{tz}', 'day', 'channel'"),
    ("basket, 90 days", sql["BASKET"], "uuid, timestamptz, timestamptz, float8, bigint", f"'{ws}', {w90}, 0.01, 20"),
]
# The planner settings a module gives its statement (`figures_tuned(pool, &[("name", "value")], ...)`),
# read from its source, by the scenario's first word (funnel.rs for "funnel, 90 days").
def settings(name):
    word = name.split(",")[0].split()[0]
    text = open(f"src/analytics/{ {'interactions': 'series'}.get(word, word) }.rs").read()
    # A module with two paths (segments: the rollup's, then the rows') names the rows' last.
    calls = re.findall(r"figures_tuned\(pool, &\[(.*?)\]", text, re.S)
    call = (calls[-1] if "from the rows" in name else calls[0]) if calls else ""
    pairs = re.findall(r'\("([a-z_]+)", "([^"]+)"\)', call)
    return "".join(f"SET {k} = '{v}'; " for k, v in pairs)


for name, body, types, args in cases:
    print(f"==== {name}")
    if only and only not in name:
        continue
    print(q(f"SET work_mem = '256MB'; SET jit = off; {settings(name)}PREPARE s ({types}) AS {body}; EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE s ({args}); DEALLOCATE s;"))

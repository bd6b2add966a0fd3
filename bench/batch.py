"""A body for POST /interactions/batch: 1,000 purchases of random bench customers on random
active channels (seeded, so every run and both sides of a comparison send the same).

    python3 bench/batch.py <file of customer ids> <file of channel ids> > batch.json
"""

import json
import random
import sys

random.seed(1)
ids = [l.strip() for l in open(sys.argv[1]) if l.strip()]
channels = sorted(l.strip() for l in open(sys.argv[2]) if l.strip())
items = [{"customer_id": random.choice(ids), "channel_id": random.choice(channels), "direction": "outbound",
          "kind": "purchase", "value_cents": random.randint(100, 90000), "items": ["SKU-001", "SKU-042"],
          "subject": "Batch benchmark"} for _ in range(1000)]
print(json.dumps({"items": items}))

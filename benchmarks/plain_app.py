"""Plain huey, no instrumentation: the baseline of benchmarks/overhead.py.

Same backend, options and task signature as bench.workload's app, minus what bench adds
(the dequeue-stamping storage, the timing record, the readiness hook). The task returns
its seq, so results are stored in both apps and only the record's extra cost differs.
`huey_consumer benchmarks.plain_app.huey` builds it from BENCH_PLAIN_NAME and BENCH_REDIS_URL.
"""

import os
import time

from huey import PriorityRedisHuey


def make_plain(name, redis_url):
    app = PriorityRedisHuey(name, url=redis_url, blocking=True, results=True, store_none=False,
                            utc=True)

    @app.task(name="work")
    def work(seq, duration_s, kind):
        if duration_s > 0:
            time.sleep(duration_s)
        return seq

    return app, work


if os.environ.get("BENCH_PLAIN_NAME"):
    huey, work = make_plain(os.environ["BENCH_PLAIN_NAME"], os.environ["BENCH_REDIS_URL"])

"""Command line: the only place that prints or exits."""

import argparse
import os
import sys

from bench.errors import BenchError


def cmd_agent(args):
    from bench.agent import run_agent

    run_agent(args.redis_url, agent_id=args.id, once=args.once)
    return 0


def build_parser():
    p = argparse.ArgumentParser(prog="bench", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    a = sub.add_parser("agent", help="serve consumer runs handed out over Redis")
    a.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    a.add_argument("--id", help="agent id (default: host-pid-random)")
    a.add_argument("--once", action="store_true", help="exit after serving one run")
    a.set_defaults(func=cmd_agent)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except BenchError as e:
        print(f"bench: error: {e}", file=sys.stderr)
        return e.exit_code

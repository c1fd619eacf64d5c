"""``python -m comprasnet_simulator``: serve the simulator in the foreground."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from .server import ComprasNetSimulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m comprasnet_simulator",
        description="Serve a deterministic ComprasNet Contratos API simulator until Ctrl-C.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--seed", default="0")
    parser.add_argument("--uasgs", default="787010", help="comma-separated UG codes")
    parser.add_argument("--contracts", type=int, default=50, help="contracts per UG")
    parser.add_argument("--inactive-ratio", type=float, default=0.2)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added per request")
    parser.add_argument("--wrap-single", action="store_true", help="/id/{id} answers [record]")
    args = parser.parse_args(argv)

    seed: int | str = int(args.seed) if args.seed.lstrip("-").isdigit() else args.seed
    uasgs = [u.strip() for u in args.uasgs.split(",") if u.strip()]
    sim = ComprasNetSimulator(
        seed=seed,
        contracts=args.contracts,
        uasgs=uasgs,
        inactive_ratio=args.inactive_ratio,
        latency=args.latency,
        host=args.host,
        port=args.port,
        wrap_single=args.wrap_single,
    )
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    sim.start()
    print(sim.base_url, flush=True)
    try:
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

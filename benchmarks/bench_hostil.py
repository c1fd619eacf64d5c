"""Issue 20 benchmark: what a hostile server costs the process that talks to it.

Each case runs in a fresh child process under an address-space limit (``--limit-mb``) against
the tests' hostile server, and prints the child's peak RSS, its seconds and the outcome: gzip
bombs (``--bomb-mib`` unpacked) on a tab, on ``/id`` and on the listing, a listing record nested
``--depth`` deep, a 300 MB error body, a 404 of the same size on the health path, and a
listing trickled a byte at a time against a 2 s deadline. Targets: every peak under 200 MB,
every case refused with its limit named, the trickle ended at its deadline.

    python benchmarks/bench_hostil.py [--bomb-mib 1024] [--depth 100000] [--limit-mb 768]
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' hostile server

from licitacao_pipeline_tests.hostil import (  # noqa: E402
    MiB,
    ServidorHostil,
    bomba,
    corpo,
    enorme,
    gotejando,
    medir,
)

CLIENT = "from licitacao_pipeline.comprasnet.client import ComprasNetClient\n"


def _call(base: str, call: str, retries: int, **client) -> str:
    return (
        CLIENT
        + f"c = ComprasNetClient({base!r}, max_retries={retries}, body_retries=0, **{client!r})\n"
        + "try:\n"
        + f"    v = {call}\n"
        + "    items = list(v) if hasattr(v, 'close') else v\n"
        + "    bad = [i.reason for i in items if not isinstance(i, dict)]\n"
        + "    return {'resultado': f'{len(items)} registros, rejeitados: {bad}'[:120]}\n"
        + "except Exception as e:\n"
        + "    return {'resultado': f'{type(e).__name__}: {e}'[:120]}\n"
    )


def cases(args) -> list[tuple[str, dict, str]]:
    bomb = args.bomb_mib * MiB
    deep = b'[{"id": 1}, {"id": 2, "x": ' + b"[" * args.depth + b"]" * args.depth + b"}]"
    ug = "/api/contrato/ug/787010"
    return [
        (f"gzip bomb {args.bomb_mib} MiB on a tab", {"/t": bomba(b"[", bomb, b"]")},
         "c.get_json('/t', 'aba')"),
        (f"gzip bomb {args.bomb_mib} MiB on /id", {"/api/contrato/id/1": bomba(b"[", bomb, b"]")},
         "c.contrato(1)"),
        (f"gzip bomb {args.bomb_mib} MiB on the listing (limit 8 MiB)",
         {ug: bomba(b"[", bomb, b"]")}, "c.contratos('787010')"),
        (f"a record nested {args.depth:,} deep in the listing", {ug: corpo(deep)},
         "c.contratos('787010')"),
        ("a 300 MB 503 body (one retry)", {"/t": enorme(503, 300 * MiB)},
         "c.get_json('/t', 'aba')"),
        ("a listing trickled 1 byte / 0.1 s, 2 s deadline",
         {ug: gotejando(b"[" + b" " * 200 + b"]", 0.1)}, "c.contratos('787010')"),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bomb-mib", type=int, default=1024)
    parser.add_argument("--depth", type=int, default=100_000)
    parser.add_argument("--limit-mb", type=int, default=768)
    args = parser.parse_args()
    settings = {"listing_max_bytes": 8 * MiB, "listing_deadline_s": 2.0, "read_timeout": 1.0}
    print(f"{'case':55s} {'peak RSS MB':>11s} {'s':>6s}  outcome")
    for name, routes, call in cases(args):
        with ServidorHostil(routes) as server:
            code = _call(server.origin, call, 1 if "503" in name else 0, **settings)
            out = medir(code, limite_mb=args.limit_mb, timeout=600)
        outcome = out.get("resultado") or f"{out.get('erro')}: {out.get('mensagem', '')[:80]}"
        print(f"{name:55s} {out['pico_rss_mb']:11.1f} {out['segundos']:6.2f}  {outcome}")
    with ServidorHostil({"/p": enorme(404, 300 * MiB)}) as server:
        code = (
            "from licitacao_pipeline.flows.saude import check_comprasnet\n"
            f"h = check_comprasnet({server.origin!r}, '/p', 5.0)\n"
            "return {'resultado': f'ok={h.ok}: {h.detalhe}'[:120]}\n"
        )
        out = medir(code, limite_mb=args.limit_mb)
    name = "health check: a 300 MB 404"
    print(f"{name:55s} {out['pico_rss_mb']:11.1f} {out['segundos']:6.2f}  {out['resultado']}")


if __name__ == "__main__":
    main()

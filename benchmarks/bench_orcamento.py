"""Request budget model: the whole federal government against one deployment's budget.

Pure computation from the project's own values (the settings of this environment: request
budget, per-tab cadence, tabs chosen, nightly full-sync share; the due rule's slack), so it
changes when they change. Models, per UASG and day:

  * the daytime sync: 2 listing requests (active + inactive: the API has no pagination), then
    every due tab of every tracked contract — due after its cadence (less the slack), or when
    the contract's listing record changed (``--alteracao-diaria`` of the contracts a day);
  * the nightly full sync (03:00), every tab of every contract, for LICITACAO_FULL_SYNC_PER_NIGHT
    UASGs a night: each UASG every ceil(UASGs / per night) nights (it resets the cadence);
  * the health check: one request every 10 minutes.

The contract counts per UASG (``--perfil``, tracked contracts, i.e. within the vigência window)
default to a documented distribution: most UASGs with 100-1,000 contracts, a few with 100,000.

Prints requests per day per tab, the total against the budget (rate x 86,400) and the ratio,
and what would fit: the rate needed, and the tracked contracts the budget covers.

    python benchmarks/bench_orcamento.py [--perfil 1500x100,1000x300,440x1000,50x10000,10x100000]
"""

import argparse
import math
import sys

from licitacao_pipeline import cadencia
from licitacao_pipeline.settings import Settings

DIA_S = 86_400
PERFIL = "1500x100,1000x300,440x1000,50x10000,10x100000"
SAUDE_POR_DIA = 24 * 6  # verificacao_saude: every 10 minutes


def parse_perfil(spec: str) -> list[tuple[int, int]]:
    out = []
    for part in spec.split(","):
        n, _, contratos = part.strip().partition("x")
        out.append((int(n), int(contratos)))
    return out


def fetches_per_day(horas: float, periodo_completa: int, slot_h: float, alteracao: float) -> float:
    """Average fetches of one tab of one contract per day, over whole full-sync rotations:
    the full sync at 03:00 on day 0 of each rotation, the daytime sync at ``slot_h`` daily."""
    limite = horas * (1 - cadencia.FOLGA)
    days = periodo_completa * max(1, math.ceil(4 * horas / 24 / periodo_completa))
    last, fetches = -math.inf, 0.0
    for day in range(days * 2):  # the first half settles the schedule
        counting = day >= days
        if day % periodo_completa == 0:
            last = day * 24 + 3
            fetches += counting
        t = day * 24 + slot_h
        if t - last > limite:
            last = t
            fetches += counting
        elif counting:
            fetches += alteracao  # changed contracts: due anyway
    return fetches / days


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--perfil", default=PERFIL, help="UASGs x tracked contracts, ...")
    parser.add_argument("--alteracao-diaria", type=float, default=0.01)
    parser.add_argument("--hora-diaria", type=float, default=9.0, help="daytime sync hour")
    args = parser.parse_args(argv)

    conf = Settings.from_env()
    perfil = parse_perfil(args.perfil)
    uasgs = sum(n for n, _ in perfil)
    contratos = sum(n * c for n, c in perfil)
    por_noite = conf.full_sync_per_night()
    periodo = max(1, math.ceil(uasgs / por_noite))
    rps = conf.comprasnet_max_rps
    orcamento = rps * DIA_S if rps else math.inf
    cad = conf.cadencia()
    abas = conf.abas()

    print(
        f"{uasgs:,} UASGs, {contratos:,} tracked contracts ({args.perfil}); "
        f"full sync of {por_noite} UASGs a night: each every {periodo} nights"
    )
    print(f"{'tab':<22}{'cadence h':>10}{'fetches/contract/day':>22}{'requests/day':>16}")
    total_abas = 0.0
    per_contract = 0.0
    for aba in abas:
        f = fetches_per_day(cad[aba], periodo, args.hora_diaria, args.alteracao_diaria)
        per_contract += f
        total_abas += f * contratos
        print(f"{aba:<22}{cad[aba]:>10.0f}{f:>22.3f}{f * contratos:>16,.0f}")
    listagens = 2 * uasgs + 2 * uasgs / periodo
    total = total_abas + listagens + SAUDE_POR_DIA
    print(f"{'listings (2 per sync)':<54}{listagens:>16,.0f}")
    print(f"{'health checks':<54}{SAUDE_POR_DIA:>16,.0f}")
    print(f"{'total requests/day':<54}{total:>16,.0f}")
    if rps is None:
        print("budget: no cap (COMPRASNET_MAX_RPS=0)")
        return 0
    ratio = total / orcamento
    fits = (orcamento - listagens - SAUDE_POR_DIA) / per_contract if per_contract else math.inf
    print(
        f"budget: {rps:g} req/s x 86,400 = {orcamento:,.0f} requests/day "
        f"(server limit ~{cadencia.LIMITE_DO_SERVIDOR_RPM}/min = "
        f"{cadencia.LIMITE_DO_SERVIDOR_RPM * 1440:,}/day per IP)"
    )
    verdict = "fits" if ratio <= 1 else "OVER BUDGET"
    print(f"ratio requests/budget: {ratio:.2f} {verdict}")
    print(
        f"rate needed: {total / DIA_S:.1f} req/s; the budget covers {fits:,.0f} tracked "
        f"contracts at these cadences ({per_contract:.2f} requests per contract a day)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

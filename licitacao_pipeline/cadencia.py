"""How often each tab (aba) of a contract is due, which tabs a deployment syncs, the request
budget toward ComprasNet and the back-off of a tab that keeps failing for one contract.

One place for these numbers: the settings read their overrides here, the warehouse's due queue
and ``benchmarks/bench_orcamento.py`` use the same values.
"""

from __future__ import annotations

from collections.abc import Mapping

from licitacao_pipeline.comprasnet.abas import SPECS
from licitacao_pipeline.validators import positive_number

HORA, DIA = 1.0, 24.0

# Every tab a contract record's ``links`` names, in the order of the specs.
ABAS_CONHECIDAS = tuple(SPECS)

# Hours after which a synced tab is due again (besides "the contract's listing record changed"
# and "never synced"), declared with each tab (``comprasnet.abas``): money that moves (empenhos,
# faturas) and the contract's own history daily; what a contract declares once weekly.
CADENCIA_PADRAO: Mapping[str, float] = {a: s.cadencia_horas for a, s in SPECS.items()}

# A tab is due once older than its cadence less this share: a daily sync at a fixed hour then
# refreshes a daily tab every day, although the last one stamped it minutes after its start.
FOLGA = 0.05

CADENCIA_VAR = "LICITACAO_CADENCIA_ABAS"  # e.g. "itens=24,terceirizados=720" (hours)
ABAS_VAR = "LICITACAO_ABAS"  # e.g. "historico,empenhos,faturas"; unset: every tab

# The live server allows about 500 requests a minute per client IP on the public routes (two
# limiters of 1000/min counting each request twice), answered 429 with Retry-After beyond it.
# 6/s = 360/min leaves room for the people and tools behind the same IP.
MAX_RPS_VAR, RAJADA_VAR = "COMPRASNET_MAX_RPS", "COMPRASNET_RAJADA"
MAX_RPS_PADRAO = 6.0
RAJADA_PADRAO = 6  # requests a quiet budget lets go at once (one second's worth)
LIMITE_DO_SERVIDOR_RPM = 500

# A tab that fails for one contract (after the client's retries) is due again after 1 h, 2 h,
# 4 h ... at most 7 x its cadence and at most a week.
BACKOFF_INICIAL_HORAS = 1.0
BACKOFF_TETO_HORAS = 7 * DIA


def cadencia_padrao(aba: str) -> float:
    return CADENCIA_PADRAO.get(aba, DIA)


def teto_backoff_horas(cadencia_horas: float) -> float:
    return min(BACKOFF_TETO_HORAS, 7 * cadencia_horas)


def backoff_horas(falhas: int, cadencia_horas: float) -> float:
    """Hours until a tab that failed ``falhas`` times in a row is tried again."""
    return min(teto_backoff_horas(cadencia_horas), BACKOFF_INICIAL_HORAS * 2 ** (falhas - 1))


def parse_cadencia(spec: str | None, var: str = CADENCIA_VAR) -> dict[str, float]:
    """``aba=horas,...`` -> the default cadence with those tabs overridden."""
    cadencia = dict(CADENCIA_PADRAO)
    for part in (spec or "").split(","):
        if not part.strip():
            continue
        aba, sep, horas = part.partition("=")
        aba = aba.strip()
        if not sep or aba not in ABAS_CONHECIDAS:
            raise ValueError(
                f"{var}: {part.strip()!r}: esperava aba=horas com aba entre "
                f"{', '.join(ABAS_CONHECIDAS)}"
            )
        value = positive_number(horas)
        if value is None:
            raise ValueError(f"{var}: {part.strip()!r}: as horas devem ser um número positivo")
        cadencia[aba] = value
    return cadencia


def parse_abas(spec: str | None, var: str = ABAS_VAR) -> tuple[str, ...]:
    """The tabs a deployment syncs (``a,b,c``), in the canonical order; unset: every tab."""
    names = [n.strip() for n in (spec or "").split(",") if n.strip()]
    if not names:
        return ABAS_CONHECIDAS
    unknown = [n for n in names if n not in ABAS_CONHECIDAS]
    if unknown:
        raise ValueError(
            f"{var}: aba(s) desconhecida(s) {', '.join(unknown)}; esperava algumas de "
            f"{', '.join(ABAS_CONHECIDAS)}"
        )
    return tuple(a for a in ABAS_CONHECIDAS if a in names)

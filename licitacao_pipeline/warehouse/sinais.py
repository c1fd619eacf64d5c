"""SQL of the red flags (sinais de alerta): one query per rule, each giving the contracts the rule
holds for today with its evidence, and the refresh that turns them into ``sinais_alerta`` rows
(opened, seen again, resolved) in the caller's transaction.

Every rule reads stored, not removed contracts (and their not removed tab records) and
``:hoje``, São Paulo's date. Texts are compared without accents (``_SEM_ACENTO``): the API
writes ``VIGÊNCIA``, ``ACRÉSCIMO / SUPRESSÃO``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa

# Held (transaction-scoped) around every refresh: one at a time, whoever starts it.
_LOCK = sa.text("SELECT pg_advisory_xact_lock(hashtext('portal'), hashtext('sinais_alerta'))")


def _sem_acento(expr: str) -> str:
    return (
        f"translate(upper(coalesce({expr}, '')), 'ÁÀÂÃÄÉÈÊËÍÌÎÏÓÒÔÕÖÚÙÛÜÇ', "
        "'AAAAAEEEEIIIIOOOOOUUUUC')"
    )


def _brl(expr: str) -> str:
    """Money as people read it: 1.234,56."""
    return f"translate(to_char({expr}, 'FM999G999G999G999G990D00'), ',.', '.,')"


def _pct(expr: str) -> str:
    return f"replace(trim(to_char({expr}, 'FM9999990D00')), '.', ',')"


# The law a contract answers to: its amparo legal when it names one, else its signature date
# (Lei 14.133/2021 is the only one for contracts signed from 2024 on).
_LEI = f"""CASE WHEN {_sem_acento("c.amparo_legal")} ~ '14[.]?133' THEN '14133'
     WHEN {_sem_acento("c.amparo_legal")} ~ '8[.]?666' THEN '8666'
     WHEN c.data_assinatura >= DATE '2024-01-01' THEN '14133' ELSE '8666' END"""

# A term's qualifications as one accentless text: "ACRESCIMO / SUPRESSAO VIGENCIA".
_QUALIFICACOES = f"""(SELECT string_agg({_sem_acento("q->>'descricao'")}, ' ')
   FROM jsonb_array_elements(CASE WHEN jsonb_typeof(h.qualificacao_termo) = 'array'
                                  THEN h.qualificacao_termo ELSE '[]'::jsonb END) AS q)"""

COLUMNS = (
    "regra, contrato_id, uasg, severidade, valor_referencia, valor_apurado, percentual, limite, "
    "data_referencia, data_limite, dias, registros, base_legal, detalhe"
)

# Rule 1 and its companion. The contract's value after each term of its historico, in signature
# order: the term's novo_valor_global when it sets one (the API sends "0,00" when it does not),
# else its valor_global. A termo aditivo changes the value by the difference with the term
# before; it counts as an acréscimo (or, negative, a supressão) when its qualificação says
# ACRÉSCIMO / SUPRESSÃO and nothing else about value; reajustes, repactuações and
# apostilamentos never count; a term with no qualificação, or with both, is not classified.
_TERMOS = f"""
WITH h AS (
    SELECT h.contrato_id, h.id, h.data_assinatura,
           (h.codigo_tipo = '55' OR {_sem_acento("h.tipo")} LIKE 'TERMO ADITIVO%') AS aditivo,
           CASE WHEN h.novo_valor_global > 0 THEN h.novo_valor_global ELSE h.valor_global END
               AS valor,
           {_QUALIFICACOES} AS quals
    FROM contratos_historico h
    JOIN contratos c ON c.id = h.contrato_id AND c.removido_em IS NULL
    WHERE h.removido_em IS NULL
),
seq AS (
    SELECT h.*,
           lag(valor) OVER w AS anterior,
           first_value(valor) OVER w AS base,
           row_number() OVER w AS n
    FROM h
    WINDOW w AS (PARTITION BY contrato_id ORDER BY data_assinatura NULLS FIRST, id)
),
termos AS (
    SELECT s.*, s.valor - s.anterior AS delta,
           CASE WHEN NOT s.aditivo THEN 'nao_aditivo'
                WHEN coalesce(s.quals, '') = '' THEN 'sem_qualificacao'
                WHEN s.quals ~ 'ACRESCIMO|SUPRESSAO' AND s.quals ~ 'REAJUSTE|REPACTUA|REEQUILIBRIO'
                    THEN 'qualificacao_mista'
                WHEN s.quals ~ 'ACRESCIMO|SUPRESSAO' THEN 'acrescimo'
                ELSE 'outra' END AS classe
    FROM seq s WHERE s.n > 1
),
por_contrato AS (
    SELECT contrato_id, max(base) AS base,
           coalesce(sum(delta) FILTER (WHERE classe = 'acrescimo'), 0) AS acrescimos,
           coalesce(sum(delta) FILTER (
               WHERE classe IN ('sem_qualificacao', 'qualificacao_mista')), 0) AS nao_classificados,
           jsonb_agg(jsonb_build_object('origem', 'historico', 'id', id, 'classe', classe,
                                        'valor_alterado', delta::text)
                     ORDER BY data_assinatura NULLS FIRST, id)
               FILTER (WHERE classe IN ('acrescimo', 'sem_qualificacao', 'qualificacao_mista')
                       AND delta <> 0) AS registros
    FROM termos GROUP BY contrato_id
),
limites AS (
    SELECT p.*, c.uasg, c.id,
           CASE WHEN {_sem_acento("c.objeto")} LIKE '%REFORMA%' THEN 50 ELSE 25 END AS limite,
           {_LEI} AS lei
    FROM por_contrato p JOIN contratos c ON c.id = p.contrato_id
    WHERE p.base > 0
)
"""
_BASE_ACRESCIMO = """CASE WHEN lei = '14133' THEN 'Lei 14.133/2021, art. 125'
     ELSE 'Lei 8.666/1993, art. 65, §1º' END"""

ACRESCIMO = f"""{_TERMOS}
SELECT 'acrescimo_acima_do_limite', id, uasg, 'alta', base, acrescimos,
       round(acrescimos * 100 / base, 4), limite, NULL::date, NULL::date, NULL::int,
       coalesce(registros, '[]'::jsonb), {_BASE_ACRESCIMO},
       'acréscimos de ' || {_pct("acrescimos * 100 / base")} || '% do valor inicial (R$ '
       || {_brl("acrescimos")} || ' sobre R$ ' || {_brl("base")} || '; limite ' || limite || '%)'
FROM limites WHERE acrescimos * 100 > limite * base
"""

NAO_CLASSIFICADO = f"""{_TERMOS}
SELECT 'acrescimo_nao_classificado', id, uasg, 'baixa', base,
       acrescimos + nao_classificados, round((acrescimos + nao_classificados) * 100 / base, 4),
       limite, NULL::date, NULL::date, NULL::int, coalesce(registros, '[]'::jsonb),
       {_BASE_ACRESCIMO},
       'termos aditivos sem qualificação clara mudaram o valor em R$ '
       || {_brl("nao_classificados")} || '; contados, os acréscimos seriam '
       || {_pct("(acrescimos + nao_classificados) * 100 / base")} || '% (limite ' || limite
       || '%): conferir o termo'
FROM limites
WHERE nao_classificados <> 0 AND acrescimos * 100 <= limite * base
  AND (acrescimos + nao_classificados) * 100 > limite * base
"""

# Rule 2: the vigência, from its start to its end after every prorrogação, against the law's
# maximum: 10 years (Lei 14.133, art. 107) or 60 months plus 12 exceptional (Lei 8.666, art. 57,
# II and §4º). The last allowed day is the day before the anniversary.
VIGENCIA = f"""
WITH c AS (
    SELECT c.*, {_LEI} AS lei FROM contratos c
    WHERE c.removido_em IS NULL AND c.receita_despesa = 'Despesa'
      AND c.vigencia_inicio IS NOT NULL AND c.vigencia_fim IS NOT NULL
),
l AS (
    SELECT c.*, CASE WHEN lei = '14133' THEN 120 ELSE 72 END AS meses,
           (c.vigencia_inicio + make_interval(
               months => CASE WHEN lei = '14133' THEN 120 ELSE 72 END) - interval '1 day')::date
               AS ultimo_dia
    FROM c
)
SELECT 'vigencia_acima_do_maximo', l.id, l.uasg, 'media', NULL::numeric, NULL::numeric,
       NULL::numeric, l.meses, l.vigencia_inicio, l.ultimo_dia, l.vigencia_fim - l.ultimo_dia,
       coalesce((SELECT jsonb_agg(jsonb_build_object('origem', 'historico', 'id', h.id,
                                                     'vigencia_fim', h.vigencia_fim) ORDER BY h.id)
                 FROM contratos_historico h
                 WHERE h.contrato_id = l.id AND h.removido_em IS NULL
                   AND {_QUALIFICACOES} LIKE '%VIGENCIA%'), '[]'::jsonb),
       CASE WHEN l.lei = '14133' THEN 'Lei 14.133/2021, art. 107'
            ELSE 'Lei 8.666/1993, art. 57, II e §4º' END,
       'vigência de ' || to_char(l.vigencia_inicio, 'DD/MM/YYYY') || ' a '
       || to_char(l.vigencia_fim, 'DD/MM/YYYY') || ': ' || (l.vigencia_fim - l.ultimo_dia)
       || ' dias além do máximo de ' || l.meses || ' meses (até '
       || to_char(l.ultimo_dia, 'DD/MM/YYYY') || ')'
FROM l WHERE l.vigencia_fim > l.ultimo_dia
"""

# Rule 3: still "Ativo" more than 30 days after its vigência ended.
ATIVO_APOS_FIM = """
SELECT 'ativo_apos_o_fim', c.id, c.uasg, 'media', NULL::numeric, NULL::numeric, NULL::numeric,
       30, c.vigencia_fim, (c.vigencia_fim + 30), CAST(:hoje AS date) - c.vigencia_fim,
       '[]'::jsonb, 'Lei 14.133/2021, art. 105 e 106 (vigência definida no contrato)',
       'situação Ativo ' || (CAST(:hoje AS date) - c.vigencia_fim)
       || ' dias depois do fim da vigência (' || to_char(c.vigencia_fim, 'DD/MM/YYYY') || ')'
FROM contratos c
WHERE c.removido_em IS NULL AND c.situacao = 'Ativo' AND c.vigencia_fim IS NOT NULL
  AND CAST(:hoje AS date) - c.vigencia_fim > 30
"""

# Rule 4: paid, according to the contract's empenhos, above its valor global.
PAGO_ACIMA = f"""
WITH e AS (
    SELECT e.contrato_id, sum(e.pago) AS pago,
           jsonb_agg(jsonb_build_object('origem', 'empenhos', 'id', e.id, 'pago', e.pago::text)
                     ORDER BY e.pago DESC, e.id) FILTER (WHERE e.pago > 0) AS registros
    FROM contratos_empenhos e
    JOIN contratos c ON c.id = e.contrato_id AND c.removido_em IS NULL
    WHERE e.removido_em IS NULL
    GROUP BY e.contrato_id
)
SELECT 'pago_acima_do_valor', c.id, c.uasg, 'alta', c.valor_global, e.pago,
       round(e.pago * 100 / c.valor_global, 4), 100, NULL::date, NULL::date, NULL::int,
       coalesce(e.registros, '[]'::jsonb),
       'Lei 14.133/2021, art. 125 e 141 (pagamento limitado ao valor contratado)',
       'pago segundo os empenhos: R$ ' || {_brl("e.pago")} || ', acima do valor global de R$ '
       || {_brl("c.valor_global")} || ' (' || {_pct("e.pago * 100 / c.valor_global")} || '%)'
FROM e JOIN contratos c ON c.id = e.contrato_id
WHERE c.valor_global > 0 AND e.pago > c.valor_global
"""

# Rule 5: in force, prorrogável, ending within 30 days, and no termo of vigência signed that
# carries it further (a manager's warning, not an irregularity).
FIM_SEM_PRORROGACAO = f"""
SELECT 'fim_sem_prorrogacao', c.id, c.uasg, 'baixa', NULL::numeric, NULL::numeric,
       NULL::numeric, 30, CAST(:hoje AS date), c.vigencia_fim,
       c.vigencia_fim - CAST(:hoje AS date), '[]'::jsonb,
       'Lei 14.133/2021, art. 107 (prorrogação formalizada antes do fim da vigência)',
       'termina em ' || (c.vigencia_fim - CAST(:hoje AS date)) || ' dias ('
       || to_char(c.vigencia_fim, 'DD/MM/YYYY') || '), prorrogável, sem termo de prorrogação'
FROM contratos c
WHERE c.removido_em IS NULL AND c.situacao = 'Ativo'
  AND CAST(:hoje AS date) BETWEEN c.vigencia_inicio AND c.vigencia_fim
  AND c.vigencia_fim - CAST(:hoje AS date) <= 30
  AND {_sem_acento("c.prorrogavel")} = 'SIM'
  AND NOT EXISTS (
      SELECT 1 FROM contratos_historico h
      WHERE h.contrato_id = c.id AND h.removido_em IS NULL AND h.vigencia_fim > c.vigencia_fim
        AND {_QUALIFICACOES} LIKE '%VIGENCIA%')
"""

REGRAS: dict[str, str] = {
    "acrescimo_acima_do_limite": ACRESCIMO,
    "acrescimo_nao_classificado": NAO_CLASSIFICADO,
    "vigencia_acima_do_maximo": VIGENCIA,
    "ativo_apos_o_fim": ATIVO_APOS_FIM,
    "pago_acima_do_valor": PAGO_ACIMA,
    "fim_sem_prorrogacao": FIM_SEM_PRORROGACAO,
}


def refresh(conn: sa.Connection, hoje: date, regras: Sequence[str]) -> dict[str, Any]:
    """Today's flags of ``regras`` into ``sinais_alerta``: new ones opened, holding ones seen
    again (their evidence brought up to date), the rest resolved. Returns the opened rows and
    the number resolved per (rule, UASG)."""
    conn.execute(_LOCK)
    conn.execute(sa.text(_CANDIDATOS))
    for regra in regras:
        conn.execute(sa.text(f"INSERT INTO candidatos ({COLUMNS}) {REGRAS[regra]}"), {"hoje": hoje})
    conn.execute(sa.text("CREATE INDEX ON candidatos (regra, contrato_id)"))
    conn.execute(sa.text("ANALYZE candidatos"))
    conn.execute(sa.text(_SEEN))
    opened = conn.execute(sa.text(_OPEN)).mappings().all()
    resolved = conn.execute(sa.text(_RESOLVE), {"regras": list(regras)}).all()
    return {"opened": opened, "resolved": resolved}


_CANDIDATOS = """
CREATE TEMP TABLE candidatos (
    regra text, contrato_id bigint, uasg varchar(6), severidade text, valor_referencia numeric,
    valor_apurado numeric, percentual numeric, limite numeric, data_referencia date,
    data_limite date, dias integer, registros jsonb, base_legal text, detalhe text
) ON COMMIT DROP
"""
_SEEN = """
UPDATE sinais_alerta s SET visto_em = now(),
       valor_referencia = k.valor_referencia, valor_apurado = k.valor_apurado,
       percentual = k.percentual, limite = k.limite, data_referencia = k.data_referencia,
       data_limite = k.data_limite, dias = k.dias, registros = k.registros,
       base_legal = k.base_legal, detalhe = k.detalhe, severidade = k.severidade
FROM candidatos k
WHERE s.resolvido_em IS NULL AND s.regra = k.regra AND s.contrato_id = k.contrato_id
"""
_OPEN = """
INSERT INTO sinais_alerta (regra, contrato_id, uasg, severidade, valor_referencia,
    valor_apurado, percentual, limite, data_referencia, data_limite, dias, registros,
    base_legal, detalhe, aberto_em, visto_em)
SELECT k.regra, k.contrato_id, k.uasg, k.severidade, k.valor_referencia, k.valor_apurado,
       k.percentual, k.limite, k.data_referencia, k.data_limite, k.dias, k.registros,
       k.base_legal, k.detalhe, now(), now()
FROM candidatos k
WHERE NOT EXISTS (SELECT 1 FROM sinais_alerta s WHERE s.resolvido_em IS NULL
                  AND s.regra = k.regra AND s.contrato_id = k.contrato_id)
RETURNING *
"""
_RESOLVE = """
UPDATE sinais_alerta s SET resolvido_em = now()
WHERE s.resolvido_em IS NULL AND s.regra = ANY(:regras)
  AND NOT EXISTS (SELECT 1 FROM candidatos k
                  WHERE k.regra = s.regra AND k.contrato_id = s.contrato_id)
RETURNING s.regra, s.uasg
"""

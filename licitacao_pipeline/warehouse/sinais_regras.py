"""The red-flag rules (sinais de alerta): one SQL query per rule, each giving the contracts the
rule holds for today with its evidence, in the columns of ``COLUMNS``.

Every rule reads stored, not removed contracts (and their not removed tab records) and
``:hoje``, São Paulo's date. Texts are compared without accents (``_sem_acento``): the API
writes ``VIGÊNCIA``, ``ACRÉSCIMO / SUPRESSÃO``.
"""

from __future__ import annotations

from collections.abc import Sequence


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

# Rule 4: paid above the contract's valor global, according to its empenhos (pago) or to its
# faturas (valor líquido of those "Pago"), whichever says more; both shown.
PAGO_ACIMA = f"""
WITH e AS (
    SELECT e.contrato_id, sum(e.pago) AS pago,
           jsonb_agg(jsonb_build_object('origem', 'empenhos', 'id', e.id, 'pago', e.pago::text)
                     ORDER BY e.pago DESC, e.id) FILTER (WHERE e.pago > 0) AS registros
    FROM contratos_empenhos e
    JOIN contratos c ON c.id = e.contrato_id AND c.removido_em IS NULL
    WHERE e.removido_em IS NULL
    GROUP BY e.contrato_id
),
f AS (
    SELECT f.contrato_id, sum(f.valorliquido) AS pago,
           jsonb_agg(jsonb_build_object('origem', 'faturas', 'id', f.id,
                                        'pago', f.valorliquido::text)
                     ORDER BY f.valorliquido DESC, f.id) AS registros
    FROM contratos_faturas f
    JOIN contratos c ON c.id = f.contrato_id AND c.removido_em IS NULL
    WHERE f.removido_em IS NULL AND f.situacao = 'Pago'
    GROUP BY f.contrato_id
),
p AS (
    SELECT coalesce(e.contrato_id, f.contrato_id) AS contrato_id, e.pago AS empenhos,
           f.pago AS faturas, greatest(e.pago, f.pago) AS pago,
           coalesce(e.registros, '[]'::jsonb) || coalesce(f.registros, '[]'::jsonb) AS registros
    FROM e FULL JOIN f ON f.contrato_id = e.contrato_id
)
SELECT 'pago_acima_do_valor', c.id, c.uasg, 'alta', c.valor_global, p.pago,
       round(p.pago * 100 / c.valor_global, 4), 100, NULL::date, NULL::date, NULL::int,
       p.registros,
       'Lei 14.133/2021, art. 125 e 141 (pagamento limitado ao valor contratado)',
       concat_ws('; ',
           'pago segundo os empenhos: R$ ' || {_brl("p.empenhos")},
           'segundo as faturas: R$ ' || {_brl("p.faturas")})
       || ', acima do valor global de R$ ' || {_brl("c.valor_global")} || ' ('
       || {_pct("p.pago * 100 / c.valor_global")} || '%)'
FROM p JOIN contratos c ON c.id = p.contrato_id
WHERE c.valor_global > 0 AND p.pago > c.valor_global
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

# Rule 6 (tabs garantias and faturas; skipped where the deployment does not sync them).
# A contract in force whose every guarantee has expired: the latest vencimento is before today.
_EM_VIGOR = """c.removido_em IS NULL AND c.situacao = 'Ativo'
  AND CAST(:hoje AS date) BETWEEN c.vigencia_inicio AND c.vigencia_fim"""
GARANTIA_VENCIDA = f"""
WITH g AS (
    SELECT g.contrato_id, max(g.vencimento) AS vencimento, sum(g.valor) AS valor,
           jsonb_agg(jsonb_build_object('origem', 'garantias', 'id', g.id,
                                        'vencimento', g.vencimento, 'valor', g.valor::text)
                     ORDER BY g.vencimento, g.id) AS registros
    FROM contratos_garantias g
    WHERE g.removido_em IS NULL AND g.vencimento IS NOT NULL
    GROUP BY g.contrato_id
)
SELECT 'garantia_vencida', c.id, c.uasg, 'media', c.valor_global, g.valor, NULL::numeric, 0,
       c.vigencia_fim, g.vencimento, CAST(:hoje AS date) - g.vencimento, g.registros,
       CASE WHEN {_LEI} = '14133' THEN 'Lei 14.133/2021, arts. 96 a 98 (garantia do contrato)'
            ELSE 'Lei 8.666/1993, art. 56 (garantia do contrato)' END,
       'garantia vencida em ' || to_char(g.vencimento, 'DD/MM/YYYY') || ' (há '
       || (CAST(:hoje AS date) - g.vencimento) || ' dias), contrato vigente até '
       || to_char(c.vigencia_fim, 'DD/MM/YYYY')
FROM g JOIN contratos c ON c.id = g.contrato_id
WHERE {_EM_VIGOR} AND g.vencimento < CAST(:hoje AS date)
"""

# Faturas not paid more than 30 days after their vencimento (situação other than "Pago").
ATRASO_DIAS = 30
FATURAS_VENCIDAS = f"""
WITH f AS (
    SELECT f.contrato_id, count(*) AS n, sum(f.valorliquido) AS valor,
           min(f.vencimento) AS mais_antiga,
           jsonb_agg(jsonb_build_object('origem', 'faturas', 'id', f.id, 'numero', f.numero,
                                        'vencimento', f.vencimento,
                                        'valorliquido', f.valorliquido::text,
                                        'situacao', f.situacao)
                     ORDER BY f.vencimento, f.id) AS registros
    FROM contratos_faturas f
    WHERE f.removido_em IS NULL AND f.situacao IS DISTINCT FROM 'Pago'
      AND CAST(:hoje AS date) - f.vencimento > {ATRASO_DIAS}
    GROUP BY f.contrato_id
)
SELECT 'faturas_vencidas_nao_pagas', c.id, c.uasg, 'media', NULL::numeric, f.valor,
       NULL::numeric, {ATRASO_DIAS}, f.mais_antiga, (f.mais_antiga + {ATRASO_DIAS}),
       CAST(:hoje AS date) - f.mais_antiga, f.registros,
       'Lei 14.133/2021, art. 141 (pagamento na ordem cronológica de exigibilidade)',
       f.n || ' fatura(s) não paga(s) mais de {ATRASO_DIAS} dias depois do vencimento, R$ '
       || {_brl("f.valor")} || '; a mais antiga venceu em '
       || to_char(f.mais_antiga, 'DD/MM/YYYY')
FROM f JOIN contratos c ON c.id = f.contrato_id AND c.removido_em IS NULL
"""

REGRAS: dict[str, str] = {
    "acrescimo_acima_do_limite": ACRESCIMO,
    "acrescimo_nao_classificado": NAO_CLASSIFICADO,
    "vigencia_acima_do_maximo": VIGENCIA,
    "ativo_apos_o_fim": ATIVO_APOS_FIM,
    "pago_acima_do_valor": PAGO_ACIMA,
    "fim_sem_prorrogacao": FIM_SEM_PRORROGACAO,
    "garantia_vencida": GARANTIA_VENCIDA,
    "faturas_vencidas_nao_pagas": FATURAS_VENCIDAS,
}
# The tab a rule reads besides contratos and historico/empenhos: a deployment that does not sync
# it skips the rule (its open flags stay as they are, neither seen nor resolved).
REQUER_ABA = {"garantia_vencida": "garantias", "faturas_vencidas_nao_pagas": "faturas"}


def regras_para(abas: Sequence[str]) -> tuple[str, ...]:
    """The rules a deployment that syncs ``abas`` can run."""
    return tuple(r for r in REGRAS if r not in REQUER_ABA or REQUER_ABA[r] in abas)

"""The eight tabs beyond historico/empenhos/itens/arquivos: cronograma, garantias, prepostos,
responsaveis, despesas_acessorias, faturas, ocorrencias and terceirizados.

Fields, their order and value formats follow ``shared/comprasnet-api-server-2021.md`` §0.3 and
§9-16: money ``"1.234,56"`` (never null), dates ``YYYY-MM-DD`` or null, ``Sim``/``Não``,
``Ativo``/``Inativo``, ``''`` for a missing lookup, ``" - "`` for an empty join, CPFs masked as
``"***.456.789-** - NOME"``. Each generator draws only from the tab's own rng (made by
:func:`data.generate_tab`) and reads the contract as generated, so it is deterministic and
coherent with the contract; cronograma follows its historico, ocorrências its responsáveis and
prepostos. Record ids are ``contrato_id * 100 + ID_OFFSET[tab] + k``: unique within a tab
(another tab may reuse them).
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

from . import data
from .data import brl, iso_day, parse_brl

ID_OFFSET = {tab: 12 * i for i, tab in enumerate(data.EXTRA_TABS)}  # cronograma <= 12
APP_URL = "https://contratos.comprasnet.gov.br"
_HOJE = data._LAST_EMISSION  # the data's "today": no emission after it
_DDD = {"RJ": 21, "BA": 71, "RN": 84, "PA": 91, "SP": 11, "SC": 48, "MS": 67, "AM": 92, "ES": 27}
_DDD |= {"PE": 81, "CE": 85, "RS": 53, "MG": 31, "GO": 62, "MA": 98, "AP": 96, "DF": 61}
_GARANTIAS = ("Caução em dinheiro", "Seguro-garantia", "Fiança bancária")
_FUNCOES_RESP = "Fiscal Técnico|Fiscal Administrativo|Gestor Substituto|Fiscal Requisitante"
_INSTALACOES = ("Edifício Sede", "Almoxarifado Central", "Bloco B", "Anexo I", "Pátio de Viaturas")
_SITUACOES_FATURA = ("Pago", "Pendente", "Pagamento Parcial", "Pagamento Suspenso")
_SITUACOES_FATURA += ("Apropriado Siafi", "Pronto para Pagamento", "Analisado")
# weights of _SITUACOES_FATURA: more than 60 days past due, past due, not yet due
_PESOS_FATURA = ((96, 2, 1, 1, 0, 0, 0), (70, 12, 0, 5, 13, 0, 0), (10, 35, 0, 0, 15, 15, 25))
_LISTA_FATURA = {"Serviços": "PRESTAÇÃO DE SERVIÇOS", "Compras": "FORNECIMENTO DE BENS"}
_SITUACOES_OCORRENCIA = ("Pendente", "Atendida", "Atendida Parcialmente", "Não Atendida")
# ocorrência texts by categoria: C Compras, S the others, * all
_OCORRENCIAS = """
C: Atraso na entrega dos materiais previstos para o período de referência.
S: Ausência de empregado no posto de trabalho sem cobertura pela contratada.
S: Empregado da contratada sem uniforme e crachá de identificação.
S: Notificação para regularizar os recolhimentos de FGTS e INSS dos empregados alocados.
S: Serviço executado fora do prazo estabelecido na ordem de serviço.
C: Entrega de material em desacordo com a especificação do Termo de Referência.
*: Não apresentação das certidões de regularidade fiscal e trabalhista no prazo.
""".strip().splitlines()
_JUSTIFICATIVAS = """
Atraso na documentação: A contratada apresentou a nota fiscal fora do prazo contratual.
Regularidade fiscal: Certidão de regularidade do FGTS vencida na data do ateste.
Glosa: Serviço parcialmente executado no período de referência.
""".strip().splitlines()
_DESPESAS = ("Frete", "Seguro", "Instalação", "Taxa de administração", "Treinamento")
_DOC_PREPOSTO = ("Carta de preposição nº {n}/{y}", "Ofício nº {n}/{y}", "Procuração nº {n}/{y}")
# a word of the contract's objeto ('' for the others); funcao; escolaridade; salary range in reais
_TERCEIRIZADOS = [
    line.split("; ")
    for line in """
limpeza; Servente de Limpeza; Ensino Fundamental Incompleto; 1518; 1750
limpeza; Encarregado de Limpeza; Ensino Médio Completo; 2100; 2600
vigilância; Vigilante; Ensino Médio Completo; 2400; 3200
vigilância; Supervisor de Vigilância; Ensino Médio Completo; 3300; 4200
manutenção; Eletricista; Ensino Médio Completo; 2600; 3400
manutenção; Bombeiro Hidráulico; Ensino Fundamental Completo; 2200; 2900
manutenção; Técnico em Refrigeração; Ensino Médio Completo; 2800; 3600
manutenção; Engenheiro Eletricista; Ensino Superior Completo; 8500; 11500
apoio; Recepcionista; Ensino Médio Completo; 1700; 2100
apoio; Auxiliar Administrativo; Ensino Médio Completo; 1900; 2400
apoio; Secretária Executiva; Ensino Superior Completo; 3800; 5200
; Auxiliar de Serviços Gerais; Ensino Fundamental Completo; 1518; 1800
; Copeiro; Ensino Fundamental Completo; 1550; 1850
; Motorista; Ensino Médio Completo; 2300; 2900
; Técnico de Suporte em TI; Ensino Médio Completo; 2800; 4200
""".strip().splitlines()
]
_Gen = Callable[[random.Random, dict, dict, str], Iterator[dict[str, Any]]]
_GENERATORS: dict[str, _Gen] = {}


def generate(
    tab: str, rng: random.Random, c: dict[str, Any], meta: dict[str, Any], base_url: str
) -> list[dict[str, Any]]:
    """The records of one of :data:`data.EXTRA_TABS`: ``id``, ``contrato_id``, then its fields."""
    head = c["id"] * data.TAB_ID_BLOCK + ID_OFFSET[tab]
    records = _GENERATORS[tab](rng, c, meta, base_url)
    return [{"id": head + k, "contrato_id": c["id"], **r} for k, r in enumerate(records)]


def _tab(fn: _Gen) -> _Gen:
    _GENERATORS[fn.__name__.lstrip("_")] = fn
    return fn


# --------------------------------------------------------------------------- helpers
def _day(text: str) -> int:
    return date.fromisoformat(text).toordinal()


def _vigencia(c: dict[str, Any]) -> tuple[int, int]:
    return _day(c["vigencia_inicio"]), _day(c["vigencia_fim"])


def _between(rng: random.Random, low: int, high: int) -> int:
    return low + rng.randrange(max(1, high - low + 1))


def _maybe(rng: random.Random, p_none: float, value: Any) -> Any:
    return None if rng.random() < p_none else value


def _month(ordinal: int, add: int) -> date:
    d = date.fromordinal(ordinal)
    y, m = divmod(d.month - 1 + add, 12)
    return date(d.year + y, m + 1, 1)


def _usuario(rng: random.Random) -> tuple[str, str]:
    """(masked ``"***.456.789-** - NOME"``, name) of a new person."""
    doc = data.cpf(rng)
    nome = f"{rng.choice(data._PRENOMES)} {rng.choice(data._SOBRENOMES)}"
    if rng.random() < 0.5:
        nome += f" {rng.choice(data._SOBRENOMES)}"
    return f"***{doc[3:12]}** - {nome.upper()}", nome


def _slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum())


def _fone(rng: random.Random, meta: dict[str, Any], celular: bool) -> str:
    ddd = _DDD.get(data.ug_info(meta["seed"], meta["uasg"])["nome_resumido"][-2:], 61)
    first = f"9{rng.randrange(6000, 10000)}" if celular else f"3{rng.randrange(100, 1000)}"
    return f"({ddd}) {first}-{rng.randrange(10000):04d}"


# --------------------------------------------------------------------------- tabs
@_tab
def _cronograma(rng: random.Random, c: dict, meta: dict, base_url: str) -> Iterator[dict]:
    hist = data.generate_tab("historico", c, meta, base_url)
    if not hist or rng.random() < data.EMPTY_TAB_RATIO:
        return
    inicio, fim = _vigencia(c)
    last, first = date.fromordinal(fim), date.fromordinal(inicio)
    months = (last.year - first.year) * 12 + last.month - first.month + 1
    dia = rng.choice((1, 5, 10, 15, 20, 28))
    entries = []
    for k in range(min(12, c["num_parcelas"] or 1, months)):
        fim_mes = _month(inicio, k + 1).toordinal() - 1
        row = [h for h in hist if _day(h["vigencia_inicio"]) <= fim_mes][-1] if k else hist[0]
        if row["retroativo"] == "Sim" and all(e[0] is not row for e in entries):
            ref = date(int(row["retroativo_anoref_ate"]), int(row["retroativo_mesref_ate"]), 1)
            entries.append((row, ref, fim_mes, "Sim", row["retroativo_valor"]))  # the difference
        valor = row["novo_valor_parcela"] or row["valor_parcela"]
        entries.append((row, _month(inicio, k), fim_mes, "Não", valor))
    for row, ref, fim_mes, retroativo, valor in entries[:12]:
        yield dict(
            tipo=row["tipo"],
            numero=row["numero"],
            receita_despesa=row["receita_despesa"],
            observacao=row["observacao"],
            mesref=f"{ref.month:02d}",
            anoref=str(ref.year),
            vencimento=iso_day(fim_mes + dia),  # day ``dia`` of the next month
            retroativo=retroativo,
            valor=valor,
        )


@_tab
def _garantias(rng: random.Random, c: dict, meta: dict, base_url: str) -> Iterator[dict]:
    inicio, fim = _vigencia(c)
    total = parse_brl(c["valor_global"])
    for _ in range(data._count(rng, 2)):
        pct = rng.choice((0.05, 0.05, 0.05, 0.03, 0.02, 0.10))
        if rng.random() < 0.15:  # expired while the contract is still in force
            vencimento = inicio + int((fim - inicio) * rng.uniform(0.3, 0.9))
        else:
            vencimento = fim + 90 + rng.randrange(-5, 6)
        tipo = rng.choice(_GARANTIAS)
        yield dict(tipo=tipo, valor=brl(round(total * pct)), vencimento=iso_day(vencimento))


@_tab
def _prepostos(rng: random.Random, c: dict, meta: dict, base_url: str) -> Iterator[dict]:
    n = data._count(rng, 2)
    inicio, fim = _vigencia(c)
    forn = c["fornecedor"]
    words = [
        w for w in forn["nome"].split() if w not in ("Ltda", "-", "ME", "Eireli", "S.A.", "EPP")
    ]
    dominio = "gmail.com" if forn["tipo"] == "FISICA" else _slug("".join(words[-2:])) + ".com.br"
    start = min(fim, inicio + rng.randrange(0, 15))
    for k in range(n):
        usuario, nome = _usuario(rng)
        ativo = k == n - 1 and rng.random() < 0.85  # the last one is the current one
        end = None if ativo else max(start, min(fim, start + rng.randrange(60, 400)))
        doc = rng.choice(_DOC_PREPOSTO).format(n=rng.randrange(1, 200), y=iso_day(start)[:4])
        info = _maybe(rng, 0.5, "Preposto com poderes para receber notificações.")
        yield dict(
            usuario=usuario,
            email=f"{_slug(nome.split()[0])}.{_slug(nome.split()[-1])}@{dominio}",
            telefonefixo=_maybe(rng, 0.3, _fone(rng, meta, False)),
            celular=_fone(rng, meta, True),
            doc_formalizacao=doc,
            informacao_complementar="Substituição do preposto anterior." if k else info,
            data_inicio=iso_day(start),
            data_fim=iso_day(end) if end is not None else None,
            situacao="Ativo" if ativo else "Inativo",
        )
        start = min(fim, (end or start) + 1)


@_tab
def _responsaveis(rng: random.Random, c: dict, meta: dict, base_url: str) -> Iterator[dict]:
    inicio, fim = _vigencia(c)
    extra = rng.sample(_FUNCOES_RESP.split("|"), rng.randint(1, 4) - 1)
    for funcao in ("Gestor", *extra):
        usuario, _ = _usuario(rng)
        start = min(fim, inicio + rng.randrange(0, 20))
        ativo = rng.random() < 0.8
        yield dict(
            usuario=usuario,
            funcao_id=funcao,
            instalacao_id=rng.choice(_INSTALACOES) if rng.random() < 0.4 else "",
            portaria=f"Portaria nº {rng.randrange(1, 999)}/{iso_day(start)[:4]}",
            situacao="Ativo" if ativo else "Inativo",
            data_inicio=iso_day(start),
            data_fim=None if ativo else iso_day(_between(rng, start, fim)),
            telefone_fixo=_maybe(rng, 0.3, _fone(rng, meta, False)),
            telefone_celular=_maybe(rng, 0.5, _fone(rng, meta, True)),
        )


@_tab
def _despesas_acessorias(rng: random.Random, c: dict, meta: dict, base_url: str) -> Iterator[dict]:
    n = 0 if rng.random() < 0.8 else rng.randint(1, 2)  # mostly none
    inicio, fim = _vigencia(c)
    total = parse_brl(c["valor_global"])
    for _ in range(n):
        tipo = rng.choice(_DESPESAS)
        recorrencia = rng.choice(("Mensal", "Anual", "Única"))
        vencimento = iso_day(_between(rng, inicio, fim))
        yield dict(
            tipo_id=tipo,
            recorrencia_id=recorrencia,
            descricao_complementar=f"{tipo} referente ao contrato {c['numero']}.",
            vencimento=_maybe(rng, 0 if recorrencia == "Única" else 0.5, vencimento),
            valor=brl(int(total * rng.uniform(0.005, 0.03))),
        )


@_tab
def _faturas(rng: random.Random, c: dict, meta: dict, base_url: str) -> Iterator[dict]:
    n = data._count(rng, 6)
    inicio, fim = _vigencia(c)
    last = min(fim, _HOJE)
    if last < inicio:
        return
    span = last - inicio
    gap = min(30, span // n) if n else 30
    end = last - rng.randrange(min(90, span) + 1)  # the most recent emissão
    total = parse_brl(c["valor_global"])
    parcelas = c["num_parcelas"] or 1
    base = total // parcelas if parcelas > 1 else total // max(1, n)
    servico = c["categoria"] == "Serviços"
    lista = _LISTA_FATURA.get(c["categoria"], "REALIZAÇÃO DE OBRAS")
    lista = "LOCAÇÕES" if "locação" in c["objeto"].lower() else lista
    nf = rng.randrange(100, 50000)
    for k in range(n):
        emissao = max(inicio, end - gap * (n - 1 - k) - rng.randrange(0, 4))
        ref = date.fromordinal(emissao - 15 if emissao - 15 >= inicio else emissao)
        vencimento = emissao + 30
        valor = base if servico and rng.random() < 0.7 else int(base * rng.uniform(0.8, 1.0))
        glosa = 0 if rng.random() < 0.8 else int(valor * rng.uniform(0.005, 0.1))
        juros = 0 if rng.random() < 0.92 else int(valor * rng.uniform(0.001, 0.01))
        multa = 0 if rng.random() < 0.95 else int(valor * 0.02)
        atraso = _HOJE - vencimento
        pesos = _PESOS_FATURA[0 if atraso > 60 else 1 if atraso > 0 else 2]
        situacao = rng.choices(_SITUACOES_FATURA, weights=pesos)[0]
        protocolo = emissao + rng.randrange(0, 6)
        ateste = protocolo + rng.randrange(1, 11)
        if (situacao == "Pendente" and rng.random() < 0.7) or ateste > _HOJE:
            ateste = None
        just = _JUSTIFICATIVAS[2 if glosa else rng.randrange(2)]
        just = just if rng.random() < (0.5 if glosa else 0.1) else ""
        sfpadrao = f"{iso_day(ateste or emissao)[:4]}NP{rng.randrange(1, 3000):06d}"
        pago = situacao in ("Pago", "Apropriado Siafi", "Pagamento Parcial")
        nf += rng.randrange(1, 40)
        yield dict(
            tipolistafatura_id=lista,
            justificativafatura_id=just,
            sfadrao_id=sfpadrao if pago and rng.random() < 0.85 else "",
            numero=str(nf),
            emissao=iso_day(emissao),
            prazo=_maybe(rng, 0.4, iso_day(vencimento)),
            vencimento=iso_day(vencimento),
            valor=brl(valor),
            juros=brl(juros),
            multa=brl(multa),
            glosa=brl(glosa),
            valorliquido=brl(valor - glosa + juros + multa),
            processo=c["processo"],
            protocolo=iso_day(protocolo) if protocolo <= _HOJE else None,
            ateste=iso_day(ateste) if ateste is not None else None,
            repactuacao="Sim" if servico and rng.random() < 0.05 else "Não",
            infcomplementar=_maybe(rng, 0.4, f"Referente a {ref.month:02d}/{ref.year}."),
            mesref=f"{ref.month:02d}",
            anoref=str(ref.year),
            situacao=situacao,
        )


@_tab
def _ocorrencias(rng: random.Random, c: dict, meta: dict, base_url: str) -> Iterator[dict]:
    n = data._count(rng, 3)
    inicio, fim = _vigencia(c)
    last = min(fim, _HOJE)
    if last < inicio:
        return
    fiscais = [r["usuario"] for r in data.generate_tab("responsaveis", c, meta, base_url)]
    prepostos = data.generate_tab("prepostos", c, meta, base_url)
    emails = [p["email"] for p in prepostos if p["situacao"] == "Ativo"] or [None]
    tag = "C" if c["categoria"] == "Compras" else "S"
    textos = [t for k, t in (line.split(": ", 1) for line in _OCORRENCIAS) if k in (tag, "*")]
    # the server's APP_URL, not the host asked: the same record whoever serves it
    pasta = f"{APP_URL}/storage/contrato/{c['id']}_{c['numero'].replace('/', '_')}"
    for k, dia in enumerate(sorted(_between(rng, inicio, last) for _ in range(n))):
        referida = rng.randint(1, k) if k and rng.random() < 0.4 else ""
        texto = rng.choice(textos)
        email = rng.choice(emails)
        notifica = email is not None and rng.random() < 0.6
        arquivos = [
            {f"arquivo_{j + 1}": f"{pasta}/{rng.getrandbits(64):016x}.pdf"}
            for j in range(rng.choice((0, 0, 1, 2)))
        ]
        yield dict(
            numero=k + 1,
            usuario=rng.choice(fiscais),
            data=iso_day(dia),
            ocorrencia=f"Reiteração da ocorrência nº {referida}. {texto}" if referida else texto,
            notificapreposto="Sim" if notifica else "Não",
            emailpreposto=email if notifica else None,
            numeroocorrencia=referida,
            novasituacao=rng.choice(("Atendida", "Não Atendida")) if referida else " - ",
            situacao=rng.choice(_SITUACOES_OCORRENCIA),
            arquivos=arquivos,
        )


@_tab
def _terceirizados(rng: random.Random, c: dict, meta: dict, base_url: str) -> Iterator[dict]:
    if c["categoria"] != "Serviços":
        return
    inicio, fim = _vigencia(c)
    pool = [r for r in _TERCEIRIZADOS if r[0] and r[0] in c["objeto"].lower()]
    pool = pool or [r for r in _TERCEIRIZADOS if not r[0]]
    sigla = data.ug_info(meta["seed"], meta["uasg"])["nome_resumido"]
    for k in range(data._count(rng, 8)):
        usuario, _ = _usuario(rng)
        _, funcao, escolaridade, low, high = rng.choice(pool)
        salario = rng.randrange(int(low) * 100, int(high) * 100 + 1)
        start = min(fim, inicio + rng.randrange(0, 60))
        ativo = rng.random() < 0.75
        yield dict(
            usuario=usuario,
            funcao_id=funcao,
            descricao_complementar=_maybe(rng, 0.4, f"Posto de {funcao.lower()} nº {k + 1}"),
            jornada=rng.choice((44, 44, 40, 30)),
            unidade=f"{sigla} - {rng.choice(_INSTALACOES)}",
            salario=brl(salario),
            custo=brl(int(salario * rng.uniform(2.0, 2.8))),
            escolaridade_id=escolaridade,
            data_inicio=iso_day(start),
            data_fim=None if ativo else iso_day(_between(rng, start, fim)),
            situacao="Ativo" if ativo else "Inativo",
            telefone_fixo=_maybe(rng, 0.8, _fone(rng, meta, False)),
            telefone_celular=_maybe(rng, 0.2, _fone(rng, meta, True)),
            aux_transporte=brl(0 if rng.random() < 0.25 else rng.randrange(15000, 45000)),
            vale_alimentacao=brl(0 if rng.random() < 0.15 else rng.randrange(44000, 99000)),
        )

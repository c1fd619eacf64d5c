"""Deterministic, seeded generation of ComprasNet Contratos records (pure functions, no I/O).

Every record comes from its own ``random.Random(f"{seed}:{uasg}:{i}...")`` so a UG's data does not
depend on which other UGs exist, and a contract's tabs do not depend on the other contracts.
Formats follow ``shared/comprasnet-api.md``: money as Brazilian strings (``"1.234,56"``), dates
``YYYY-MM-DD``, timestamps ``YYYY-MM-DDTHH:MM:SSZ``, 6-digit UG codes, formatted CNPJ/CPF.
"""

from __future__ import annotations

import math
import random
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any

TABS = ("historico", "empenhos", "itens", "arquivos")
EXTRA_TABS = ("cronograma", "garantias", "prepostos", "responsaveis")  # made by abas_extras
EXTRA_TABS += ("despesas_acessorias", "faturas", "ocorrencias", "terceirizados")
GENERATED_TABS = TABS + EXTRA_TABS  # the 12 tabs of a contract's ``links``
OTHER_TABS = ("publicacoes",)  # answers 200 []
ALL_TABS = GENERATED_TABS + OTHER_TABS
# Keys of a contract's ``links``, in the order the real service sends them.
LINK_KEYS = (
    "historico",
    "empenhos",
    "cronograma",
    "garantias",
    "itens",
    "prepostos",
    "responsaveis",
    "despesas_acessorias",
    "faturas",
    "ocorrencias",
    "terceirizados",
    "arquivos",
)

# Contract ids are ``int(uasg) * ID_BLOCK + index + 1``: unique across UGs, decodable back.
ID_BLOCK = 100_000
# Tab record ids are ``contrato_id * TAB_ID_BLOCK + offset + k``: unique across all tabs.
TAB_ID_BLOCK = 100
TAB_ID_OFFSET = {"historico": 0, "empenhos": 10, "itens": 30, "arquivos": 60}
EMPTY_TAB_RATIO = 0.12

_DAY0 = date(2018, 1, 1).toordinal()
_LAST_EMISSION = date(2026, 6, 30).toordinal()


# --------------------------------------------------------------------------- formats
def brl(cents: int) -> str:
    """Integer cents -> Brazilian money: ``123456`` -> ``"1.234,56"``, ``0`` -> ``"0,00"``."""
    sign = "-" if cents < 0 else ""
    reais, cent = divmod(abs(cents), 100)
    return f"{sign}{reais:,}".replace(",", ".") + f",{cent:02d}"


def parse_brl(text: str) -> int:
    """Inverse of :func:`brl` (cents)."""
    value = Decimal(text.replace(".", "").replace(",", "."))
    return int(value * 100)


def iso_day(ordinal: int) -> str:
    return date.fromordinal(ordinal).isoformat()


def _digits(rng: random.Random, n: int) -> list[int]:
    return [rng.randrange(10) for _ in range(n)]


def _check_digit(nums: list[int], weights: list[int]) -> int:
    rest = sum(a * b for a, b in zip(nums, weights, strict=True)) % 11
    return 0 if rest < 2 else 11 - rest


def cnpj(rng: random.Random) -> str:
    base = _digits(rng, 8) + [0, 0, 0, 1]
    d1 = _check_digit(base, [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2])
    d2 = _check_digit(base + [d1], [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2])
    s = "".join(map(str, base + [d1, d2]))
    return f"{s[:2]}.{s[2:5]}.{s[5:8]}/{s[8:12]}-{s[12:]}"


def cpf(rng: random.Random) -> str:
    base = _digits(rng, 9)
    d1 = _check_digit(base, list(range(10, 1, -1)))
    d2 = _check_digit(base + [d1], list(range(11, 1, -1)))
    s = "".join(map(str, base + [d1, d2]))
    return f"{s[:3]}.{s[3:6]}.{s[6:9]}-{s[9:]}"


def _pick(rng: random.Random, weighted: tuple[tuple[Any, float], ...]) -> Any:
    u = rng.random() * sum(w for _, w in weighted)
    for value, weight in weighted:
        u -= weight
        if u < 0:
            return value
    return weighted[-1][0]


def _log_cents(rng: random.Random, low_reais: float, high_reais: float) -> int:
    return int(math.exp(rng.uniform(math.log(low_reais * 100), math.log(high_reais * 100))))


# --------------------------------------------------------------------------- vocabulary
_CIDADES = (
    ("Rio de Janeiro", "RJ"),
    ("Salvador", "BA"),
    ("Natal", "RN"),
    ("Belém", "PA"),
    ("São Paulo", "SP"),
    ("Florianópolis", "SC"),
    ("Ladário", "MS"),
    ("Manaus", "AM"),
    ("Brasília", "DF"),
    ("São Pedro da Aldeia", "RJ"),
    ("Vitória", "ES"),
    ("Recife", "PE"),
    ("Fortaleza", "CE"),
    ("Rio Grande", "RS"),
    ("Belo Horizonte", "MG"),
    ("Goiânia", "GO"),
    ("São Luís", "MA"),
    ("Macapá", "AP"),
)
_UG_MARINHA = (
    ("CENTRO DE INTENDÊNCIA DA MARINHA EM {C}", "CEIM"),
    ("BASE NAVAL DE {C}", "BN"),
    ("HOSPITAL NAVAL DE {C}", "HN"),
    ("CAPITANIA DOS PORTOS DE {C}", "CP"),
    ("DEPÓSITO DE SUBSISTÊNCIA DA MARINHA EM {C}", "DEPSUB"),
    ("ESCOLA DE APRENDIZES-MARINHEIROS DE {C}", "EAM"),
    ("COMANDO DO DISTRITO NAVAL DE {C}", "COMDN"),
    ("SERVIÇO DE SINALIZAÇÃO NÁUTICA DE {C}", "SSN"),
)
_UG_GERAL = (
    ("UNIVERSIDADE FEDERAL DE {C}", "UF"),
    ("INSTITUTO FEDERAL DE EDUCAÇÃO, CIÊNCIA E TECNOLOGIA DE {C}", "IF"),
    ("HOSPITAL UNIVERSITÁRIO DE {C}", "HU"),
    ("SUPERINTENDÊNCIA REGIONAL EM {C}", "SR"),
    ("GERÊNCIA EXECUTIVA DE {C}", "GEX"),
    ("DELEGACIA DA RECEITA FEDERAL EM {C}", "DRF"),
)
_ORGAOS_PREFIXO = {
    "78": ("52131", "COMANDO DA MARINHA"),
    "77": ("52131", "COMANDO DA MARINHA"),
    "16": ("52121", "COMANDO DO EXÉRCITO"),
    "12": ("52111", "COMANDO DA AERONÁUTICA"),
    "15": ("26000", "MINISTÉRIO DA EDUCAÇÃO"),
}
_ORGAOS_OUTROS = (
    ("36000", "MINISTÉRIO DA SAÚDE"),
    ("30000", "MINISTÉRIO DA JUSTIÇA E SEGURANÇA PÚBLICA"),
    ("25000", "MINISTÉRIO DA FAZENDA"),
    ("39000", "MINISTÉRIO DOS TRANSPORTES"),
    ("44000", "MINISTÉRIO DO MEIO AMBIENTE E MUDANÇA DO CLIMA"),
)

_SERVICOS = (
    "manutenção predial preventiva e corretiva, com fornecimento de peças e materiais",
    "limpeza, asseio e conservação, com fornecimento de mão de obra, materiais e equipamentos",
    "vigilância patrimonial armada e desarmada",
    "manutenção preventiva e corretiva de aparelhos de ar-condicionado e sistemas de climatização",
    "apoio administrativo, recepção e secretariado",
    "fornecimento de refeições prontas (alimentação coletiva)",
    "manutenção de viaturas oficiais, com fornecimento de peças genuínas",
    "telefonia móvel pessoal (SMP) e transmissão de dados",
    "outsourcing de impressão, com fornecimento de equipamentos e suprimentos",
    "suporte técnico em tecnologia da informação e comunicação",
    "jardinagem, roçada e poda de árvores",
    "dedetização, desratização, descupinização e limpeza de caixas d'água",
    "transporte rodoviário de cargas e mudanças",
    "manutenção preventiva e corretiva de elevadores",
    "coleta, transporte e destinação final de resíduos de serviços de saúde",
    "engenharia para elaboração de projetos executivos de arquitetura",
    "locação de veículos sem motorista, com quilometragem livre",
    "lavanderia hospitalar, com coleta e entrega das peças",
)
_COMPRAS = (
    "material de expediente e suprimentos de escritório",
    "gêneros alimentícios perecíveis e não perecíveis",
    "equipamentos de informática (microcomputadores, monitores e notebooks)",
    "material médico-hospitalar e medicamentos",
    "uniformes e equipamentos de proteção individual (EPI)",
    "combustíveis (óleo diesel S-10 e gasolina comum)",
    "mobiliário em geral (cadeiras, mesas e armários de aço)",
    "peças sobressalentes para embarcações e motores marítimos",
    "material elétrico, hidráulico e de iluminação",
    "material de limpeza e produtos de higienização",
    "licenças de uso de software e subscrições de nuvem",
    "água mineral e gás liquefeito de petróleo (GLP)",
)
_OBRAS = (
    "reforma e ampliação do pavilhão de alojamentos",
    "construção de muro de contenção e drenagem pluvial",
    "recuperação estrutural do cais de atracação",
    "pavimentação asfáltica das vias internas",
    "reforma da cobertura e impermeabilização das lajes",
    "adequação das instalações elétricas e do sistema de proteção contra descargas atmosféricas",
)
_OBJETO_FIM = (
    ", conforme condições, quantidades e exigências estabelecidas no Termo de Referência e seus "
    "anexos.",
    ", pelo período de 12 (doze) meses, podendo ser prorrogado nos termos da lei.",
    " para atender às necessidades da {ug}.",
    ", de natureza contínua, nas dependências da {ug}.",
    ".",
)
_SUBCATEGORIAS = {
    "Serviços": (
        ("Serviços Continuados com Dedicação Exclusiva de Mão de Obra", 3),
        ("Serviços Continuados sem Dedicação Exclusiva de Mão de Obra", 3),
        ("Serviços Não Continuados", 2),
        (None, 3),
    ),
    "Compras": (("Material de Consumo", 4), ("Material Permanente", 2), (None, 3)),
    "Obras": (("Obras e Serviços de Engenharia", 3), (None, 2)),
}
_MODALIDADES = (
    (("05", "Pregão"), 55),
    (("06", "Dispensa"), 20),
    (("07", "Inexigibilidade"), 12),
    (("03", "Concorrência"), 8),
    (("02", "Tomada de Preços"), 3),
    (("01", "Convite"), 2),
)
_AMPARO_14133 = {
    "05": "LEI 14.133/2021 - Artigo: 28 - Inciso: I",
    "03": "LEI 14.133/2021 - Artigo: 28 - Inciso: II",
    "06": "LEI 14.133/2021 - Artigo: 75 - Inciso: II",
    "07": "LEI 14.133/2021 - Artigo: 74 - Inciso: I",
}
_AMPARO_ANTIGO = {
    "05": "LEI 10.520/2002 - Artigo: 1",
    "03": "LEI 8.666/1993 - Artigo: 22 - Inciso: I",
    "02": "LEI 8.666/1993 - Artigo: 22 - Inciso: II",
    "01": "LEI 8.666/1993 - Artigo: 22 - Inciso: III",
    "06": "LEI 8.666/1993 - Artigo: 24 - Inciso: II",
    "07": "LEI 8.666/1993 - Artigo: 25 - Inciso: I",
}
_JUSTIFICATIVAS_INATIVO = (
    "Contrato encerrado por término de vigência.",
    "Rescisão amigável, conforme termo de rescisão.",
    "Rescisão unilateral por inexecução parcial do objeto.",
    "Cadastro em duplicidade.",
    None,
)

_FORN_PREFIXOS = (
    "Construtora",
    "Comércio de Materiais",
    "Serviços Técnicos",
    "Distribuidora",
    "Soluções em Tecnologia",
    "Engenharia e Manutenção",
    "Alimentos",
    "Conservadora",
    "Segurança e Vigilância",
    "Transportes",
    "Informática",
    "Climatização",
    "Papelaria e Suprimentos",
    "Comércio e Serviços",
)
_FORN_NOMES = (
    "São João",
    "Nova Esperança",
    "Alvorada",
    "Horizonte",
    "Bandeirantes",
    "Atlântico",
    "Ipê Amarelo",
    "Três Irmãos",
    "Guanabara",
    "Araújo & Filhos",
    "Boa Vista",
    "Pôr do Sol",
    "Santa Luzia",
    "Maré Alta",
    "Cruzeiro do Sul",
    "Acácia",
    "Brasil Central",
    "Jequitibá",
    "Conceição",
    "Estrela Guia",
    "Amazônia",
    "Paraíso",
)
_FORN_SUFIXOS = ("Ltda", "Ltda", "Ltda - ME", "Eireli", "S.A.", "EPP")
_PRENOMES = (
    "Maria",
    "José",
    "João",
    "Ana",
    "Antônio",
    "Francisca",
    "Luís",
    "Márcia",
    "Sebastião",
    "Lúcia",
    "Gonçalo",
    "Inês",
)
_SOBRENOMES = (
    "da Silva",
    "dos Santos",
    "de Oliveira",
    "de Souza",
    "Pereira",
    "da Conceição",
    "Araújo",
    "Gonçalves",
    "Magalhães",
    "Assunção",
    "Brandão",
    "Simões",
)
_OBS_ADITIVO = (
    "Prorrogação do prazo de vigência por mais 12 (doze) meses.",
    "Acréscimo quantitativo de 25% (vinte e cinco por cento) sobre o valor inicial atualizado.",
    "Supressão de itens, nos termos do art. 125 da Lei nº 14.133/2021.",
    "Prorrogação de vigência e reajuste pelo IPCA acumulado no período.",
    "Alteração da razão social da contratada, sem alteração do objeto.",
)
_OBS_APOSTILA = (
    "Reajuste contratual pelo índice IPCA/IBGE acumulado nos últimos 12 meses.",
    "Repactuação em razão da Convenção Coletiva de Trabalho da categoria.",
    "Alteração da dotação orçamentária.",
)
_QUALIFICACOES = (
    (1, "ACRÉSCIMO / SUPRESSÃO"),
    (2, "VIGÊNCIA"),
    (3, "REAJUSTE"),
    (4, "REPACTUAÇÃO"),
    (5, "FORNECEDOR"),
)
_ITENS_SERVICO = (
    ("24872", "MANUTENÇÃO PREDIAL", "SERVIÇOS DE MANUTENÇÃO E REPARAÇÃO"),
    ("5380", "LIMPEZA E CONSERVAÇÃO", "SERVIÇOS DE LIMPEZA"),
    ("23817", "VIGILÂNCIA OSTENSIVA", "SERVIÇOS DE SEGURANÇA"),
    ("2771", "MANUTENÇÃO DE AR CONDICIONADO", "SERVIÇOS DE MANUTENÇÃO E REPARAÇÃO"),
    ("27014", "SUPORTE TÉCNICO DE TIC", "SERVIÇOS DE TECNOLOGIA DA INFORMAÇÃO"),
    ("16837", "FORNECIMENTO DE REFEIÇÕES", "SERVIÇOS DE ALIMENTAÇÃO"),
)
_ITENS_MATERIAL = (
    ("150458", "PAPEL A4, ALCALINO, 75 G/M²", "MATERIAL DE EXPEDIENTE"),
    ("397654", "ÓLEO DIESEL S-10", "COMBUSTÍVEIS E LUBRIFICANTES"),
    ("461925", "MICROCOMPUTADOR PESSOAL", "EQUIPAMENTOS DE TIC"),
    ("269912", "LUVA DE PROCEDIMENTO NÃO CIRÚRGICO", "MATERIAL HOSPITALAR"),
    ("234067", "CAFÉ TORRADO E MOÍDO", "GÊNEROS ALIMENTÍCIOS"),
    ("440197", "LÂMPADA LED TUBULAR 18 W", "MATERIAL ELÉTRICO"),
)
_TIPOS_ARQUIVO = (
    ("Contrato", "Instrumento contratual assinado"),
    ("Termo Aditivo", "Termo aditivo assinado pelas partes"),
    ("Publicação", "Extrato publicado no Diário Oficial da União"),
    ("Termo de Referência", "Termo de Referência e anexos"),
    ("Garantia", "Apólice de seguro-garantia"),
)
_NATUREZAS = ("339039", "339030", "339037", "449052", "339040", "339033")


# --------------------------------------------------------------------------- ids
def normalize_uasg(uasg: Any) -> str:
    """UG codes are 6-digit strings; ints and short digit strings are zero-padded."""
    text = str(uasg).strip()
    if text.isdigit() and len(text) < 6:
        text = text.zfill(6)
    return text


def contract_id(uasg: str, index: int) -> int:
    return int(uasg) * ID_BLOCK + index + 1


def decode_id(cid: int) -> tuple[str, int]:
    """Contract id -> (uasg, index)."""
    block, rest = divmod(cid, ID_BLOCK)
    return f"{block:06d}", rest - 1


def tab_record_id(cid: int, tab: str, k: int) -> int:
    return cid * TAB_ID_BLOCK + TAB_ID_OFFSET[tab] + k


# --------------------------------------------------------------------------- UG and suppliers
@lru_cache(maxsize=4096)
def ug_info(seed: Any, uasg: str) -> dict[str, Any]:
    """Name and órgão of a UG (deterministic from seed and code)."""
    rng = random.Random(f"{seed}:ug:{uasg}")
    cidade, uf = rng.choice(_CIDADES)
    if uasg[:2] in ("78", "77"):
        template, sigla = rng.choice(_UG_MARINHA)
    else:
        template, sigla = rng.choice(_UG_GERAL)
    orgao = _ORGAOS_PREFIXO.get(uasg[:2]) or rng.choice(_ORGAOS_OUTROS)
    return {
        "codigo": uasg,
        "nome": template.format(C=cidade.upper()),
        "nome_resumido": f"{sigla}{uf}",
        "orgao_codigo": orgao[0],
        "orgao_nome": orgao[1],
        "processo_prefixo": f"{rng.randrange(10000, 99999):05d}",
    }


def _ug_object(info: dict[str, Any]) -> dict[str, Any]:
    return {
        "codigo": info["codigo"],
        "nome_resumido": info["nome_resumido"],
        "nome": info["nome"],
        "sisg": "Sim",
        "utiliza_siafi": "Sim",
        "utiliza_antecipagov": "Não",
    }


_SUPPLIER_POOL = 600


@lru_cache(maxsize=_SUPPLIER_POOL * 4)
def supplier(seed: Any, k: int) -> tuple[str, str, str]:
    """(tipo, cnpj_cpf_idgener, nome) of supplier ``k`` of the seed's shared supplier pool."""
    rng = random.Random(f"{seed}:fornecedor:{k}")
    if rng.random() < 0.1:
        nome = f"{rng.choice(_PRENOMES)} {rng.choice(_PRENOMES)} {rng.choice(_SOBRENOMES)}"
        return "FISICA", cpf(rng), nome
    nome = f"{rng.choice(_FORN_PREFIXOS)} {rng.choice(_FORN_NOMES)} {rng.choice(_FORN_SUFIXOS)}"
    return "JURIDICA", cnpj(rng), nome


def _fornecedor(seed: Any, k: int) -> dict[str, str]:
    tipo, doc, nome = supplier(seed, k)
    return {"tipo": tipo, "cnpj_cpf_idgener": doc, "nome": nome}


_MINUSCULAS = {"De", "Da", "Do", "Das", "Dos", "Em", "E", "No", "Na"}


def _title(text: str) -> str:
    """``"BASE NAVAL DE NATAL"`` -> ``"Base Naval de Natal"``."""
    words = text.title().split(" ")
    return " ".join(w.lower() if i and w in _MINUSCULAS else w for i, w in enumerate(words))


def _processo(rng: random.Random, info: dict[str, Any], year: int) -> str:
    numero = rng.randrange(1, 999999)
    return f"{info['processo_prefixo']}.{numero:06d}/{year}-{rng.randrange(100):02d}"


# --------------------------------------------------------------------------- contracts
def generate_contract(
    seed: Any, uasg: str, index: int, inactive_ratio: float = 0.2
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The contract record (without ``links``) and hidden metadata used to generate its tabs."""
    rng = random.Random(f"{seed}:{uasg}:{index}")
    r = rng.random
    cid = contract_id(uasg, index)
    info = ug_info(seed, uasg)

    inativo = r() < inactive_ratio
    categoria = _pick(rng, (("Serviços", 55), ("Compras", 35), ("Obras", 10)))
    subcategoria = _pick(rng, _SUBCATEGORIAS[categoria])
    (codigo_modalidade, modalidade) = _pick(rng, _MODALIDADES)
    tipo, codigo_tipo = ("Empenho", "51") if r() < 0.08 else ("Contrato", "50")

    # vigência: 2018..2026 start, 3 months .. 5 years: many "Ativo" contracts expired long ago
    last_start = date(2023, 12, 31) if inativo else date(2026, 9, 30)
    start_span = last_start.toordinal() - _DAY0
    inicio = _DAY0 + rng.randrange(start_span)
    dur = _pick(rng, ((365, 45), (730, 10), (1825, 8), (180, 10), (90, 5), (0, 22)))
    if dur == 0:
        dur = rng.randrange(30, 1800)
    fim = inicio + dur - 1 if dur > 1 else inicio
    assinatura = inicio - rng.randrange(0, 30)
    publicacao = assinatura + rng.randrange(0, 20)
    proposta = assinatura - rng.randrange(10, 120) if r() < 0.6 else None
    year = date.fromordinal(assinatura).year

    if categoria == "Serviços":
        objeto = "Prestação de serviços de " + rng.choice(_SERVICOS)
    elif categoria == "Compras":
        objeto = "Aquisição de " + rng.choice(_COMPRAS)
    else:
        objeto = "Execução de obra de " + rng.choice(_OBRAS)
    objeto += rng.choice(_OBJETO_FIM).format(ug=_title(info["nome"]))

    hist_n = 0 if r() < EMPTY_TAB_RATIO else _pick(rng, ((1, 45), (2, 30), (3, 15), (4, 10)))
    if r() < 0.03:
        valor_inicial = 0
    elif categoria == "Obras":
        valor_inicial = _log_cents(rng, 50_000, 60_000_000)
    else:
        valor_inicial = _log_cents(rng, 800, 25_000_000)
    valor_global = valor_inicial
    if hist_n > 1 and valor_inicial and r() < 0.6:
        valor_global = int(valor_inicial * rng.uniform(0.8, 1.25))
    num_parcelas = _pick(rng, ((12, 50), (1, 20), (24, 10), (6, 8), (60, 5), (36, 7)))
    valor_parcela = valor_global // num_parcelas
    roll = r()
    if roll < 0.02:
        valor_acumulado = -rng.randrange(1, max(2, valor_global // 20 + 2))
    elif roll < 0.15:
        valor_acumulado = 0
    else:
        valor_acumulado = int(valor_global * rng.uniform(0.05, 1.0))

    forn_k = rng.randrange(_SUPPLIER_POOL)
    ug_obj = _ug_object(info)
    if r() < 0.05:  # contract inherited from another UG of the same órgão
        other = f"{(int(uasg) + rng.randrange(1, 90)) % 1_000_000:06d}"
        origem_info = ug_info(seed, other)
        origem_obj = _ug_object(origem_info)
    else:
        origem_obj = dict(ug_obj)
    lei_nova = year >= 2023 and codigo_modalidade in _AMPARO_14133
    amparo = (_AMPARO_14133 if lei_nova else _AMPARO_ANTIGO)[codigo_modalidade]
    seq = rng.randrange(1, 400)

    record: dict[str, Any] = {
        "id": cid,
        "receita_despesa": "Receita" if r() < 0.03 else "Despesa",
        "numero": f"{seq:05d}/{year}",
        "contratante": {
            "orgao_origem": {
                "codigo": info["orgao_codigo"],
                "nome": info["orgao_nome"],
                "unidade_gestora_origem": origem_obj,
            },
            "orgao": {
                "codigo": info["orgao_codigo"],
                "nome": info["orgao_nome"],
                "unidade_gestora": ug_obj,
            },
        },
        "fornecedor": _fornecedor(seed, forn_k),
        "codigo_tipo": codigo_tipo,
        "tipo": tipo,
        "subtipo": None,
        "prorrogavel": _pick(rng, (("Sim", 5), ("Não", 3), (None, 2))),
        "situacao": "Inativo" if inativo else "Ativo",
        "justificativa_inativo": rng.choice(_JUSTIFICATIVAS_INATIVO) if inativo else None,
        "categoria": categoria,
        "subcategoria": subcategoria,
        "unidades_requisitantes": (f"{uasg} - {info['nome_resumido']}" if r() < 0.3 else None),
        "processo": _processo(rng, info, year),
        "objeto": objeto,
        "amparo_legal": amparo,
        "informacao_complementar": (
            "Contrato vinculado à Ata de Registro de Preços." if r() < 0.25 else None
        ),
        "codigo_modalidade": codigo_modalidade,
        "modalidade": modalidade,
        "unidade_compra": uasg,
        "licitacao_numero": f"{rng.randrange(1, 300):05d}/{year - 1 if r() < 0.3 else year}",
        "sistema_origem_licitacao": _pick(rng, (("SIASG", 5), ("COMPRASGOV", 3), (None, 2))),
        "data_assinatura": iso_day(assinatura),
        "data_publicacao": iso_day(publicacao) if r() < 0.95 else None,
        "data_proposta_comercial": iso_day(proposta) if proposta else None,
        "vigencia_inicio": iso_day(inicio),
        "vigencia_fim": iso_day(fim),
        "valor_inicial": brl(valor_inicial),
        "valor_global": brl(valor_global),
        "num_parcelas": num_parcelas,
        "valor_parcela": brl(valor_parcela),
        "valor_acumulado": brl(valor_acumulado),
    }
    meta = {
        "seed": seed,
        "uasg": uasg,
        "index": index,
        "hist_n": hist_n,
        "valor_inicial": valor_inicial,
        "forn_k": forn_k,
    }
    return record, meta


def links(base_url: str, cid: int) -> dict[str, str]:
    return {key: f"{base_url}/api/contrato/{cid}/{key}" for key in LINK_KEYS}


# --------------------------------------------------------------------------- tabs
def generate_tab(
    tab: str, contract: dict[str, Any], meta: dict[str, Any], base_url: str
) -> list[dict[str, Any]]:
    """A contract's tab records, derived from the contract as generated (not as later changed)."""
    seed, uasg, index = meta["seed"], meta["uasg"], meta["index"]
    rng = random.Random(f"{seed}:{uasg}:{index}:{tab}")
    if tab == "historico":
        return _historico(rng, contract, meta)
    if tab == "empenhos":
        return _empenhos(rng, contract, meta, base_url)
    if tab == "itens":
        return _itens(rng, contract)
    if tab == "arquivos":
        return _arquivos(rng, contract)
    if tab in EXTRA_TABS:
        from . import abas_extras  # imports this module

        return abas_extras.generate(tab, rng, contract, meta, base_url)
    return []


def _timestamp(rng: random.Random, ordinal: int) -> str:
    day = date.fromordinal(ordinal)
    return (
        f"{day.isoformat()}T{rng.randrange(8, 20):02d}:{rng.randrange(60):02d}:"
        f"{rng.randrange(60):02d}Z"
    )


def _historico(rng: random.Random, c: dict[str, Any], meta: dict[str, Any]) -> list[dict]:
    n = meta["hist_n"]
    if n == 0:
        return []
    cid = c["id"]
    inicio = date.fromisoformat(c["vigencia_inicio"]).toordinal()
    fim = date.fromisoformat(c["vigencia_fim"]).toordinal()
    # the original term ends before the final vigência when aditivos extended it
    steps = [inicio - 1]
    for k in range(1, n):
        steps.append(inicio + (fim - inicio) * k // n)
    steps.append(fim)
    # value progression from valor_inicial to valor_global
    v0 = meta["valor_inicial"]
    vg = parse_brl(c["valor_global"])
    valores = [v0 + (vg - v0) * k // max(1, n - 1) for k in range(n)]
    valores[-1] = vg
    parcelas = c["num_parcelas"]
    out = []
    for k in range(n):
        original = k == 0
        assinatura = (
            date.fromisoformat(c["data_assinatura"]).toordinal()
            if original
            else max(steps[k] - rng.randrange(0, 30), inicio)
        )
        criado = assinatura + rng.randrange(0, 10)
        if original:
            tipo, codigo_tipo, numero = "Contrato", "50", c["numero"]
            qualificacao = None
            observacao = c["objeto"]
        elif rng.random() < 0.75:
            tipo, codigo_tipo = "Termo Aditivo", "55"
            numero = f"{k:05d}/{date.fromordinal(assinatura).year}"
            quals = [_QUALIFICACOES[1]]
            if valores[k] != valores[k - 1]:
                quals.insert(0, _QUALIFICACOES[0])
            if rng.random() < 0.3:
                quals.append(_QUALIFICACOES[2])
            qualificacao = [{"codigo": q, "descricao": d} for q, d in quals]
            observacao = rng.choice(_OBS_ADITIVO)
        else:
            tipo, codigo_tipo = "Termo de Apostilamento", "56"
            numero = f"{k:05d}/{date.fromordinal(assinatura).year}"
            qualificacao = [{"codigo": 3, "descricao": "REAJUSTE"}] if rng.random() < 0.7 else None
            observacao = rng.choice(_OBS_APOSTILA)
        anterior = valores[k - 1] if k else v0
        novo = None if original else valores[k]
        retro = not original and rng.random() < 0.2
        retro_valor = 0
        if retro:
            retro_valor = rng.randrange(1, max(2, abs(anterior) // 50 + 2))
            if rng.random() < 0.15:
                retro_valor = -retro_valor
        vig_ini = inicio if original else steps[k] + 1
        vig_fim = max(steps[k + 1], vig_ini)
        out.append(
            {
                "id": tab_record_id(cid, "historico", k),
                "contrato_id": cid,
                "receita_despesa": c["receita_despesa"],
                "numero": numero,
                "observacao": observacao,
                "ug": meta["uasg"],
                "gestao": "00001",
                "fornecedor": dict(c["fornecedor"]),
                "codigo_tipo": codigo_tipo,
                "tipo": tipo,
                "categoria": c["categoria"],
                "processo": c["processo"],
                "objeto": c["objeto"] if original else None,
                "informacao_complementar": c["informacao_complementar"] if original else None,
                "modalidade": c["modalidade"],
                "licitacao_numero": c["licitacao_numero"],
                "data_assinatura": iso_day(assinatura),
                "data_publicacao": iso_day(assinatura + rng.randrange(0, 15)),
                "vigencia_inicio": iso_day(vig_ini),
                "vigencia_fim": iso_day(vig_fim),
                "valor_inicial": brl(v0),
                "valor_global": brl(anterior if not original else v0),
                "num_parcelas": parcelas,
                "valor_parcela": brl((anterior if not original else v0) // parcelas),
                "novo_valor_global": brl(novo) if novo is not None else None,
                "novo_num_parcelas": parcelas if novo is not None else None,
                "novo_valor_parcela": brl(novo // parcelas) if novo is not None else None,
                "data_inicio_novo_valor": iso_day(vig_ini) if novo is not None else None,
                "retroativo": "Sim" if retro else "Não",
                "retroativo_mesref_de": f"{rng.randrange(1, 13):02d}" if retro else None,
                "retroativo_anoref_de": str(date.fromordinal(vig_ini).year) if retro else None,
                "retroativo_mesref_ate": f"{rng.randrange(1, 13):02d}" if retro else None,
                "retroativo_anoref_ate": str(date.fromordinal(vig_ini).year) if retro else None,
                "retroativo_valor": brl(retro_valor),
                "qualificacao_termo": qualificacao,
                "situacao_contrato": c["situacao"],
                "criado_em": _timestamp(rng, criado),
                "alterado_em": _timestamp(rng, criado + rng.randrange(0, 400)),
            }
        )
    return out


def _count(rng: random.Random, high: int) -> int:
    return 0 if rng.random() < EMPTY_TAB_RATIO else rng.randint(1, high)


def _empenhos(
    rng: random.Random, c: dict[str, Any], meta: dict[str, Any], base_url: str
) -> list[dict]:
    n = _count(rng, 5)
    cid = c["id"]
    uasg = meta["uasg"]
    forn = c["fornecedor"]
    inicio = date.fromisoformat(c["vigencia_inicio"]).toordinal()
    fim = min(date.fromisoformat(c["vigencia_fim"]).toordinal(), _LAST_EMISSION)
    total = parse_brl(c["valor_global"])
    out = []
    for k in range(n):
        emissao = inicio + rng.randrange(max(1, fim - inicio + 1))
        year = date.fromordinal(emissao).year
        empenhado = int(total * rng.uniform(0.05, 0.6) / max(1, n)) if total else 0
        liquidado = int(empenhado * rng.choice((0, 0.3, 0.7, 1, 1)))
        pago = int(liquidado * rng.choice((0.5, 1, 1)))
        old = year < 2026
        rpinscrito = (empenhado - pago) if old else 0
        rec = {
            "id": tab_record_id(cid, "empenhos", k),
            "unidade_gestora": uasg,
            "gestao": "00001",
            "numero": f"{year}NE{rng.randrange(1, 2500):06d}",
            "data_emissao": iso_day(emissao),
            "credor": f"{forn['cnpj_cpf_idgener']} - {forn['nome'].upper()}",
            "credor_obj": {
                "cnpj_cpf_idgener": forn["cnpj_cpf_idgener"],
                "nome": forn["nome"].upper(),
                "tipo": forn["tipo"],
            },
            "fonte_recurso": rng.choice(("1000000000", "1001000000", "1444000000", "0100000000")),
            "programa_trabalho": f"05{rng.randrange(100, 999)}{rng.randrange(1000, 9999)}"
            f"{rng.choice(('2000', '20XV', '2004'))}0001",
            "planointerno": "".join(
                rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(11)
            ),
            "naturezadespesa": rng.choice(_NATUREZAS),
            "empenhado": brl(empenhado),
            "aliquidar": brl(empenhado - liquidado),
            "liquidado": brl(liquidado),
            "pago": brl(pago),
            "rpinscrito": brl(rpinscrito),
            "rpaliquidar": brl((empenhado - liquidado) if old else 0),
            "rpliquidado": brl((liquidado - pago) if old else 0),
            "rppago": brl(int(rpinscrito * rng.choice((0, 0.5, 1))) if old else 0),
            "informacao_complementar": (
                f"{uasg}0000{year % 100:02d}{rng.randrange(1, 999):06d}"
                if rng.random() < 0.7
                else None
            ),
            "sistema_origem": rng.choice(("SIAFI", "SIAFI", "SIASG")),
            "links": {
                "documento_pagamento": f"{base_url}/api/empenho/"
                f"{tab_record_id(cid, 'empenhos', k)}/documento_pagamento"
            },
        }
        out.append(rec)
    return out


_Q4 = Decimal("0.0001")
_CENT = Decimal("0.01")


def _itens(rng: random.Random, c: dict[str, Any]) -> list[dict]:
    n = _count(rng, 6)
    cid = c["id"]
    servico = c["categoria"] != "Compras"
    catalogo = _ITENS_SERVICO if servico else _ITENS_MATERIAL
    total = parse_brl(c["valor_global"])
    out = []
    for k in range(n):
        codigo, descricao, grupo = rng.choice(catalogo)
        if servico:
            qtd = Decimal(rng.choice((1, 12, 12, 24, 60)))
        elif rng.random() < 0.3:
            qtd = Decimal(rng.randrange(1, 50000)) / Decimal(4)
        else:
            qtd = Decimal(rng.randrange(1, 5000))
        unit = int(max(total, 100_00) * rng.uniform(0.01, 0.5) / max(1, n) / float(qtd)) or 1
        valortotal = (qtd * unit).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        roll = rng.random()
        if roll < 0.05:  # sometimes a JSON number instead of a decimal string
            quantidade: Any = int(qtd) if qtd == int(qtd) else float(qtd)
        else:
            quantidade = str(qtd.quantize(_Q4))
        out.append(
            {
                "id": tab_record_id(cid, "itens", k),
                "contrato_id": cid,
                "tipo_id": "Serviço" if servico else "Material",
                "tipo_material": None if servico else rng.choice(("Consumo", "Permanente")),
                "grupo_id": f"{rng.randrange(10, 99)} - {grupo}",
                "catmatseritem_id": f"{codigo} - {descricao}",
                "descricao_complementar": f"{descricao.capitalize()}, conforme especificações do "
                f"Termo de Referência, item {k + 1}.",
                "quantidade": quantidade,
                "valorunitario": brl(unit),
                "valortotal": brl(int(valortotal)),
                "numero_item_compra": f"{k + 1:05d}",
            }
        )
    return out


def _arquivos(rng: random.Random, c: dict[str, Any]) -> list[dict]:
    n = _count(rng, 3)
    cid = c["id"]
    out = []
    for k in range(n):
        tipo, descricao = _TIPOS_ARQUIVO[0] if k == 0 else rng.choice(_TIPOS_ARQUIVO)
        sei = rng.random() < 0.4
        doc = rng.randrange(1_000_000, 30_000_000)
        out.append(
            {
                "id": tab_record_id(cid, "arquivos", k),
                "contrato_id": cid,
                "tipo": tipo,
                "processo": c["processo"],
                "sequencial_documento": str(doc) if sei else None,
                "descricao": f"{descricao} - {c['numero']}",
                "path_arquivo": f"contrato/{cid}/{rng.getrandbits(64):016x}.pdf",
                "origem": "1" if sei else "0",
                "link_sei": (
                    "https://sei.processoeletronico.gov.br/sei/controlador.php?"
                    f"acao=documento_visualizar&id_documento={doc}"
                    if sei
                    else None
                ),
            }
        )
    return out

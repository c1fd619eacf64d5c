"""Every tab (aba) of a contract that the API's ``links`` name, declared once as an ``AbaSpec``.

Each spec maps a warehouse column to (converter, path in the record); the warehouse tables, the
exports and the change history are derived from the same specs. Shapes:
``shared/comprasnet-api.md`` (2026 captures) and ``shared/comprasnet-api-server-2021.md`` §5-16.
"""

from __future__ import annotations

from typing import Any

from licitacao_pipeline.comprasnet.aba_spec import (
    AbaSpec,
    Converter,
    Snapshot,
    cpf_mascarado,
    descricao,
    json_value,
    nome_usuario,
    sim_nao,
    text_or_number,
)
from licitacao_pipeline.comprasnet.aba_spec import parse_snapshot as _parse
from licitacao_pipeline.comprasnet.parsing import (
    day,
    decimal,
    integer,
    money,
    text,
    timestamp,
)

__all__ = ["ABAS", "SPECS", "AbaSpec", "Snapshot", "json_value", "parse_snapshot", "text_or_number"]

DIA, SEMANA = 24.0, 168.0


def _cols(conv: Converter, names: str) -> dict[str, tuple[Converter, tuple[str, ...]]]:
    return {n: (conv, (n,)) for n in names.split()}


def _nested(conv: Converter, prefix: str, obj: str, names: str):
    return {f"{prefix}_{n}": (conv, (obj, n)) for n in names.split()}


# ``usuario`` ("<CPF mascarado> - <NOME>") as two columns; both personal data.
_USUARIO = {
    "usuario_cpf": (cpf_mascarado, ("usuario",)),
    "usuario_nome": (nome_usuario, ("usuario",)),
}
_PESSOA = frozenset({"usuario_cpf", "usuario_nome"})

_SPECS = [
    AbaSpec(
        "historico",
        {
            **_cols(
                text,
                "receita_despesa numero observacao ug gestao codigo_tipo tipo categoria "
                "processo objeto modalidade licitacao_numero retroativo situacao_contrato",
            ),
            **_nested(text, "fornecedor", "fornecedor", "tipo cnpj_cpf_idgener nome"),
            **_cols(
                day,
                "data_assinatura data_publicacao vigencia_inicio vigencia_fim "
                "data_inicio_novo_valor",
            ),
            **_cols(
                money,
                "valor_inicial valor_global valor_parcela novo_valor_global "
                "novo_valor_parcela retroativo_valor",
            ),
            **_cols(integer, "num_parcelas novo_num_parcelas"),
            **_cols(json_value, "qualificacao_termo"),
            **_cols(timestamp, "criado_em alterado_em"),
        },
        DIA,
        "O contrato original, seus termos aditivos e apostilamentos.",
        historico=(
            "tipo",
            "numero",
            "observacao",
            "data_assinatura",
            "vigencia_inicio",
            "vigencia_fim",
            "valor_global",
            "novo_valor_global",
            "novo_valor_parcela",
            "novo_num_parcelas",
            "data_inicio_novo_valor",
        ),  # fmt: skip
        singular="registro",
    ),
    AbaSpec(
        "empenhos",
        {
            **_cols(
                text,
                "unidade_gestora gestao numero credor fonte_recurso programa_trabalho "
                "planointerno naturezadespesa informacao_complementar sistema_origem",
            ),
            **_nested(text, "credor", "credor_obj", "cnpj_cpf_idgener nome tipo"),
            **_cols(day, "data_emissao"),
            **_cols(
                money,
                "empenhado aliquidar liquidado pago rpinscrito rpaliquidar rpliquidado rppago",
            ),
        },
        DIA,
        "As notas de empenho do contrato: empenhado, liquidado e pago.",
        historico=("numero", "data_emissao", "empenhado", "aliquidar", "liquidado", "pago"),
        singular="empenho",
    ),
    AbaSpec(
        "itens",
        {
            **_cols(
                text_or_number, "tipo_id tipo_material grupo_id catmatseritem_id numero_item_compra"
            ),
            **_cols(text, "descricao_complementar"),
            **_cols(decimal, "quantidade"),
            **_cols(money, "valorunitario valortotal"),
        },
        SEMANA,
        "Os itens (materiais e serviços) do contrato.",
        singular="item",
    ),
    AbaSpec(
        "arquivos",
        _cols(text, "tipo processo sequencial_documento descricao path_arquivo origem link_sei"),
        SEMANA,
        "Os documentos anexados ao contrato.",
        singular="arquivo",
    ),
    AbaSpec(
        "faturas",
        {
            **_cols(descricao, "tipolistafatura_id justificativafatura_id sfadrao_id"),
            **_cols(text, "numero processo infcomplementar mesref anoref"),
            **_cols(day, "emissao prazo vencimento protocolo ateste"),
            **_cols(money, "valor juros multa glosa valorliquido"),
            **_cols(sim_nao, "repactuacao"),
            **_cols(descricao, "situacao"),
        },
        DIA,
        "As faturas do contrato: valor, glosa, vencimento e situação (até 'Pago').",
        historico=(
            "numero",
            "vencimento",
            "valor",
            "juros",
            "multa",
            "glosa",
            "valorliquido",
            "situacao",
        ),  # fmt: skip
        singular="fatura",
    ),
    AbaSpec(
        "garantias",
        {**_cols(descricao, "tipo"), **_cols(money, "valor"), **_cols(day, "vencimento")},
        SEMANA,
        "As garantias do contrato e seu vencimento.",
        historico=("tipo", "valor", "vencimento"),
        # before 2021-04-22 the server sent only tipo, valor and vencimento
        chave_natural=("tipo", "valor", "vencimento"),
        singular="garantia",
    ),
    AbaSpec(
        "cronograma",
        {
            **_cols(descricao, "tipo"),
            **_cols(text, "numero receita_despesa observacao mesref anoref"),
            **_cols(day, "vencimento"),
            **_cols(sim_nao, "retroativo"),
            **_cols(money, "valor"),
        },
        SEMANA,
        "O cronograma de pagamentos: valor por mês de referência.",
        singular="parcela",
    ),
    AbaSpec(
        "responsaveis",
        {
            **_USUARIO,
            **_cols(descricao, "funcao_id instalacao_id"),
            **_cols(text, "portaria situacao telefone_fixo telefone_celular"),
            **_cols(day, "data_inicio data_fim"),
        },
        SEMANA,
        "Os responsáveis designados (gestor, fiscais) e sua portaria.",
        pessoais=_PESSOA | {"telefone_fixo", "telefone_celular"},
        historico=("funcao_id", "portaria", "situacao", "data_inicio", "data_fim"),
        singular="responsavel",
    ),
    AbaSpec(
        "prepostos",
        {
            **_USUARIO,
            **_cols(
                text,
                "email telefonefixo celular doc_formalizacao informacao_complementar situacao",
            ),
            **_cols(day, "data_inicio data_fim"),
        },
        SEMANA,
        "Os prepostos do fornecedor.",
        pessoais=_PESSOA | {"email", "telefonefixo", "celular"},
        singular="preposto",
    ),
    AbaSpec(
        "despesas_acessorias",
        {
            **_cols(descricao, "tipo_id recorrencia_id"),
            **_cols(text, "descricao_complementar"),
            **_cols(day, "vencimento"),
            **_cols(money, "valor"),
        },
        SEMANA,
        "As despesas acessórias do contrato.",
        singular="despesa",
    ),
    AbaSpec(
        "ocorrencias",
        {
            **_cols(integer, "numero"),
            **_USUARIO,
            **_cols(day, "data"),
            **_cols(text, "ocorrencia emailpreposto"),
            **_cols(sim_nao, "notificapreposto"),
            **_cols(descricao, "numeroocorrencia novasituacao situacao"),
            **_cols(json_value, "arquivos"),
        },
        SEMANA,
        "As ocorrências registradas na execução do contrato.",
        pessoais=_PESSOA | {"emailpreposto"},
        singular="ocorrencia",
    ),
    AbaSpec(
        "terceirizados",
        {
            **_USUARIO,
            **_cols(descricao, "funcao_id escolaridade_id"),
            **_cols(text, "descricao_complementar unidade situacao telefone_fixo telefone_celular"),
            **_cols(integer, "jornada"),
            **_cols(money, "salario custo aux_transporte vale_alimentacao"),
            **_cols(day, "data_inicio data_fim"),
        },
        SEMANA,
        "Os empregados terceirizados do contrato: função, jornada, custo.",
        pessoais=_PESSOA
        | {"telefone_fixo", "telefone_celular", "salario", "custo", "aux_transporte"}
        | {"vale_alimentacao"},
        singular="terceirizado",
    ),
]
SPECS: dict[str, AbaSpec] = {s.aba: s for s in _SPECS}
# In the order the listing names them (the first four are the ones synced first).
ABAS = tuple(SPECS)


def parse_snapshot(aba: str, contrato_id: int, records: list[Any]) -> Snapshot:
    """Every record of one contract's tab parsed; a bad or repeated record is rejected alone."""
    return _parse(SPECS[aba], contrato_id, records)

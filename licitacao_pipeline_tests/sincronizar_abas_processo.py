"""One tab sync of one UASG in its own process, with the deployment's shared request budget:
``python -m licitacao_pipeline_tests.sincronizar_abas_processo BASE_URL DB_URL UASG RPS RAJADA``.

Prints ``pronto`` once imported and connected, then waits for a line on stdin, so the test can
start several of them at the same moment; prints ``feito <requests>`` at the end.
"""

import sys

from licitacao_pipeline.defs.resources import ComprasNetResource
from licitacao_pipeline.flows.abas import AbasResult, Limites
from licitacao_pipeline.flows.abas_uasg import Janela, sincronizar_uasg
from licitacao_pipeline.warehouse.engine import get_engine


def main(base_url: str, db_url: str, uasg: str, rps: str, rajada: str) -> None:
    resource = ComprasNetResource(
        base_url=base_url,
        max_rps=float(rps),
        rajada=int(rajada),
        orcamento_compartilhado=True,
        orcamento_database_url=db_url,
        backoff_factor=0.05,
        backoff_max=0.2,
    )
    client, engine = resource.make_client(), get_engine(db_url)
    print("pronto", flush=True)
    sys.stdin.readline()
    resultado = AbasResult.para(("historico", "empenhos", "itens", "arquivos"))
    sincronizar_uasg(client, engine, uasg, resultado, janela=Janela(), workers=8, limites=Limites())
    print(f"feito {client.stats.snapshot()['requests']} falhas {resultado.falhas}", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:6])

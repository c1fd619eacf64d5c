"""The UASG partitioning shared by every per-UASG asset."""

import dagster as dg

from licitacao_pipeline.config import load_uasgs

UASGS = load_uasgs()
uasg_partitions = dg.StaticPartitionsDefinition([u.codigo for u in UASGS])

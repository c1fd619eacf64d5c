"""The UASG partitioning shared by every per-UASG asset, from the configured list.

Read once at import (env var and/or file, see ``settings.Settings.uasgs``); no database or network.
"""

import dagster as dg

from licitacao_pipeline import settings

UASGS = settings.load().uasgs()
uasg_partitions = dg.StaticPartitionsDefinition([u.codigo for u in UASGS])

"""A local, deterministic simulator of the ComprasNet Contratos API (stdlib HTTP server).

    from comprasnet_simulator import ComprasNetSimulator, TABS

    with ComprasNetSimulator(seed=0, contracts={"787010": 30}) as sim:
        requests.get(f"{sim.base_url}/api/contrato/ug/787010").json()

Out of process, ``python -m comprasnet_simulator`` serves it and
:class:`SimulatorControl` drives its ``/_sim/`` control endpoints.
"""

from .control import SimulatorControl
from .data import ALL_TABS, EXTRA_TABS, GENERATED_TABS, TABS, brl
from .server import COUNT_KINDS, FAULT_KINDS, ComprasNetSimulator

__all__ = [
    "ALL_TABS",
    "COUNT_KINDS",
    "EXTRA_TABS",
    "FAULT_KINDS",
    "GENERATED_TABS",
    "TABS",
    "ComprasNetSimulator",
    "SimulatorControl",
    "brl",
]

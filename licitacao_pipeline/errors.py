"""What the project refuses on purpose (bad config, a refused file, a safety threshold crossed):
such a step ends with the error's message, never retried. ``defs.retries.transient_only`` maps
every ``Recusado`` to that failure, in one place."""

from __future__ import annotations

from typing import Any


class Recusado(Exception):
    """Refused input or state; ``prefixo`` names the kind in the step's failure, ``campo`` the
    config field at fault (shown in the failure's metadata)."""

    prefixo: str = ""
    campo: str | None = None

    @property
    def descricao(self) -> str:
        return f"{self.prefixo}: {self}" if self.prefixo else str(self)

    @property
    def metadata(self) -> dict[str, Any]:
        return {"campo": self.campo} if self.campo else {}


class ConfigRecusada(Recusado, ValueError):
    """An invalid option of a job's config; the message starts with the option's name."""

    prefixo = "configuração inválida"

    def __init__(self, name: str, problem: str):
        super().__init__(f"{name}: {problem}")
        self.campo = self.field = name

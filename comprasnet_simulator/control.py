"""Client for the simulator's ``/_sim/`` control endpoints (for a simulator in another process)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any


class SimulatorControl:
    """Drive a simulator over HTTP: ``SimulatorControl("http://127.0.0.1:8765").count("listing")``."""

    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _call(self, name: str, body: dict[str, Any] | None = None) -> Any:
        url = f"{self.base_url}/_sim/{name}"
        payload = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        request = urllib.request.Request(
            url,
            data=payload,
            method="GET" if body is None else "POST",
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            return json.loads(response.read().decode("utf-8"))

    def counts(self) -> dict[str, Any]:
        return self._call("counts")

    def count(self, kind: str) -> int:
        return int(self.counts()["by_kind"].get(kind, 0))

    @property
    def requests(self) -> dict[str, int]:
        return self.counts()["requests"]

    @property
    def max_in_flight(self) -> int:
        return int(self.counts()["max_in_flight"])

    def request_times(self) -> list[tuple[float, str]]:
        """``(unix time, path)`` of each API request since the last reset, in arrival order."""
        return [(float(t), str(p)) for t, p in self._call("request_times")]

    def reset_counts(self) -> None:
        self._call("reset_counts", {})

    def inject_fault(self, kind: str, path: str = r".*", times: int = 1, **opts: Any) -> None:
        self._call("faults", {"kind": kind, "path": path, "times": times, **opts})

    def clear_faults(self) -> None:
        self._call("clear_faults", {})

    def set_latency(self, seconds: float) -> None:
        self._call("latency", {"seconds": seconds})

    def change_contrato(self, cid: int, **fields: Any) -> dict[str, Any]:
        return self._call("change_contrato", {"id": cid, "fields": fields})

    def remove_contrato(self, cid: int) -> None:
        self._call("remove_contrato", {"id": cid})

    def add_contrato(self, uasg: str, **fields: Any) -> dict[str, Any]:
        return self._call("add_contrato", {"uasg": uasg, "fields": fields})

    def set_tab(self, cid: int, tab: str, records: list[dict[str, Any]]) -> None:
        self._call("set_tab", {"id": cid, "tab": tab, "records": records})

    def change_tab_record(self, cid: int, tab: str, index: int, **fields: Any) -> None:
        self._call("change_tab_record", {"id": cid, "tab": tab, "index": index, "fields": fields})

    def contrato_ids(self, uasg: str) -> list[int]:
        return self._call(f"contrato_ids?uasg={uasg}")

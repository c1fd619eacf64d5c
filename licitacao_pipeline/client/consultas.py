"""The GraphQL the client sends besides ``DagsterGraphQLClient``'s own calls, and how answers
become ``tipos``."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from dagster import DagsterRunStatus

from licitacao_pipeline.client.tipos import Evento, Execucao

RUN_FIELDS = "runId jobName status startTime endTime tags { key value }"
RUN_QUERY = f"""
query LicitacaoRun($runId: ID!) {{
  runOrError(runId: $runId) {{
    __typename
    ... on Run {{ {RUN_FIELDS} }}
    ... on RunNotFoundError {{ message }}
    ... on PythonError {{ message }}
  }}
}}"""
TEMPOS_QUERY = """
query LicitacaoTempos($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run {
      creationTime
      stats { __typename ... on RunStatsSnapshot { enqueuedTime launchTime startTime endTime } }
    }
    ... on RunNotFoundError { message }
    ... on PythonError { message }
  }
}"""
METADATA = """metadataEntries { label
  ... on IntMetadataEntry { intRepr }
  ... on FloatMetadataEntry { floatValue }
  ... on TextMetadataEntry { text }
  ... on BoolMetadataEntry { boolValue }
  ... on PathMetadataEntry { path }
  ... on JsonMetadataEntry { jsonString }
}"""
EVENTS_QUERY = f"""
query LicitacaoRunEvents($runId: ID!, $after: String) {{
  logsForRun(runId: $runId, afterCursor: $after) {{
    __typename
    ... on EventConnection {{
      cursor
      hasMore
      events {{
        __typename
        ... on MessageEvent {{ message level timestamp stepKey }}
        ... on ErrorEvent {{ error {{ message }} }}
        ... on MaterializationEvent {{ assetKey {{ path }} {METADATA} }}
        ... on ObservationEvent {{ assetKey {{ path }} {METADATA} }}
        ... on ExecutionStepOutputEvent {{ outputName {METADATA} }}
        ... on AssetCheckEvaluationEvent {{
          evaluation {{ checkName success assetKey {{ path }} }}
        }}
      }}
    }}
    ... on RunNotFoundError {{ message }}
    ... on PythonError {{ message }}
  }}
}}"""
ACTIVE_RUNS_QUERY = """
query LicitacaoActiveRuns($statuses: [RunStatus!]) {
  runsOrError(filter: {statuses: $statuses}) {
    __typename
    ... on Runs { results { status tags { key value } } }
    ... on PythonError { message }
  }
}"""
CHILD_RUNS_QUERY = f"""
query LicitacaoChildRuns($parent: String!) {{
  runsOrError(filter: {{tags: [{{key: "dagster/parent_run_id", value: $parent}}]}}) {{
    __typename
    ... on Runs {{ results {{ {RUN_FIELDS} }} }}
    ... on PythonError {{ message }}
  }}
}}"""
TERMINATE_MUTATION = """
mutation LicitacaoTerminate($runId: String!) {
  terminateRun(runId: $runId) {
    __typename
    ... on TerminateRunFailure { message }
    ... on RunNotFoundError { message }
    ... on UnauthorizedError { message }
    ... on PythonError { message }
  }
}"""
PARTITIONS_QUERY = """
query LicitacaoPartitions($selector: PipelineSelector!) {
  pipelineOrError(params: $selector) {
    __typename
    ... on Pipeline { partitionKeysOrError { partitionKeys } }
    ... on PipelineNotFoundError { message }
    ... on PythonError { message }
  }
}"""


def metadata(entries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for e in entries:
        if "intRepr" in e:
            out[e["label"]] = int(e["intRepr"])
        elif "jsonString" in e:
            out[e["label"]] = json.loads(e["jsonString"])
        else:
            for key in ("floatValue", "text", "boolValue", "path"):
                if key in e:
                    out[e["label"]] = e[key]
    return out


def evento(raw: Mapping[str, Any]) -> Evento:
    asset = raw.get("assetKey") or (raw.get("evaluation") or {}).get("assetKey")
    evaluation = raw.get("evaluation") or {}
    return Evento(
        tipo=raw["__typename"],
        mensagem=raw.get("message") or "",
        nivel=raw.get("level") or "",
        timestamp=int(raw.get("timestamp") or 0) / 1000,
        step=raw.get("stepKey"),
        asset="/".join(asset["path"]) if asset else None,
        metadados=metadata(raw.get("metadataEntries") or []),
        erro=(raw.get("error") or {}).get("message"),
        sucesso=evaluation.get("success"),
    )


def execucao(raw: Mapping[str, Any]) -> Execucao:
    return Execucao(
        run_id=raw["runId"],
        job=raw["jobName"],
        status=DagsterRunStatus(raw["status"]),
        tags={t["key"]: t["value"] for t in raw["tags"]},
        start_time=raw.get("startTime"),
        end_time=raw.get("endTime"),
    )

"""API fuzz generated from the OpenAPI schema (schemathesis) over every route: no 5xx, every
status code documented, every response matching its schema and content type.

The default run is small (a few examples per operation, about a minute on 2 cores); the
``slow`` run goes deeper.  The server is real (uvicorn in a thread, SQLite file, thread pool).
"""

from __future__ import annotations

import pytest
from _web_shared import free_port, served

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
# Imported at collection, before other tests run: CPython 3.11 can fail pytest's rewrite of a module
# imported later, while finalizers of earlier tests' killed process pools run ("AST constructor
# recursion depth mismatch"); the plugin's session-end import of its allure writer is done here too.
from schemathesis.specs.openapi import schemas as _openapi_schemas  # noqa: E402,F401
with __import__("contextlib").suppress(ImportError):
    import schemathesis.reporting.allure  # noqa: E402,F401
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance, status_code_conformance  # noqa: E402

CHECKS = (not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance)


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory):
    from mitrasim.web.settings import WebSettings

    db = tmp_path_factory.mktemp("fuzz") / "web.sqlite3"
    settings = WebSettings(db_url=f"sqlite:///{db}", port=free_port(), workers=2, use_processes=False, task_timeout_s=60, max_beats=60)
    with served(settings) as url:
        yield url


def _operations(base_url: str):
    schema = schemathesis.openapi.from_url(base_url + "/api/openapi.json")
    return list(schema.get_all_operations())


def _fuzz(base_url: str, max_examples: int) -> list[str]:
    failures: list[str] = []
    ops = _operations(base_url)
    assert len(ops) >= 18, "every route should be in the schema"
    for result in ops:
        op = result.ok()
        strategy = op.as_strategy()

        @settings(max_examples=max_examples, deadline=None, derandomize=True, database=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=strategy)
        def run(case) -> None:
            try:
                case.call_and_validate(base_url=base_url, checks=CHECKS, timeout=120)
            except Exception as exc:  # noqa: BLE001 - collected, reported together
                failures.append(f"{op.method.upper()} {op.path}: {str(exc).splitlines()[0][:300]}")

        run()
    return failures


def test_every_route_no_5xx_and_schema_conformant(base_url: str) -> None:
    failures = _fuzz(base_url, max_examples=6)
    assert not failures, "\n".join(sorted(set(failures))[:30])


@pytest.mark.slow
def test_every_route_deep(base_url: str) -> None:
    failures = _fuzz(base_url, max_examples=60)
    assert not failures, "\n".join(sorted(set(failures))[:30])

"""The committed AsyncAPI document passes the AsyncAPI project's own parser (needs node and npm)."""

import json
import os

import pytest

from schemas.generate import ASYNCAPI_FILE
from tests import asyncapi_parser


def on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="module")
def node():
    """The node binary, with the pinned parser installed; skips without node/npm, except on CI where it fails."""
    node, npm = asyncapi_parser.tools()
    if node is None or npm is None:
        message = "node and npm are needed to check schemas/asyncapi.json with @asyncapi/parser"
        if on_ci():
            pytest.fail(f"{message}, and CI must run that check")
        pytest.skip(message)
    asyncapi_parser.ensure_installed(npm)
    return node


def explain(done) -> str:
    return f"@asyncapi/parser exit {done.returncode}:\n{done.stdout}{done.stderr}"


class TestAsyncApiParser:
    """The official parser accepts the committed document and is seen to reject a broken one."""

    def test_committed_document_has_no_parser_errors(self, node):
        """No error diagnostic (e.g. an unresolvable $ref) for schemas/asyncapi.json."""
        done = asyncapi_parser.check(node, ASYNCAPI_FILE)
        assert done.returncode == 0, explain(done)
        assert "0 error(s)" in done.stdout, explain(done)

    def test_a_payload_reference_to_its_own_defs_is_reported(self, node, tmp_path):
        """The check is not vacuous: a payload's "#/$defs/..." reference, the old bug, fails it and is named."""
        document = json.loads(ASYNCAPI_FILE.read_text())
        payload = document["components"]["messages"]["ppn_submitted"]["payload"]
        payload["properties"]["source"] = {"$ref": "#/$defs/Source"}
        broken = tmp_path / "asyncapi.json"
        broken.write_text(json.dumps(document))
        done = asyncapi_parser.check(node, broken)
        assert done.returncode == 1, explain(done)
        assert "#/$defs/Source" in done.stdout and "invalid-ref" in done.stdout, explain(done)

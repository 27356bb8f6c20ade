"""A visitor's receipt of their consent (/cookies/receipt) and its verification by a
sysadmin (`ckan cookieconsent verify`, the cookieconsent_receipt_verify action): the
signature and the records both checked, hostile receipts refused in one clear line.

The CLI runs in its own process, as an admin runs it, on the session's PostgreSQL, with the
test portal's secret (the receipts' key derives from it)."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ckan.tests.helpers import call_action
from helpers import EXAMPLE, PLUGIN_MARKS, ckan_ini
from helpers import choose as _choose
from helpers import consent_id as _consent_id

from ckanext.cookieconsent import proof

SITE_ID = "cookieconsent_receipt"
SECRET = f"{SITE_ID}-secret-key-of-32-bytes-or-more"  # what helpers.ckan_ini writes
CKAN = str(Path(sys.executable).parent / "ckan")

pytestmark = [
    *PLUGIN_MARKS,
    pytest.mark.ckan_config("ckanext.cookieconsent.catalogue", EXAMPLE),
    pytest.mark.ckan_config("SECRET_KEY", SECRET),
    pytest.mark.ckan_config("ckan.site_title", "Open data of Somewhere"),
    pytest.mark.usefixtures("consent_tables"),
]


def _receipt(client: Any) -> Any:
    return client.get("/cookies/receipt")


def _chosen(app: Any) -> tuple[Any, str]:
    """A visitor who allowed media (statistics refused), and their consent id."""
    client = app.test_client()
    consent_id = _consent_id(_choose(client, "save", granted="media"))
    return client, consent_id


# --- The download --------------------------------------------------------------------------


def test_without_a_choice_there_is_no_receipt_nor_link(app: Any) -> None:
    client = app.test_client()
    response = _receipt(client)
    assert response.status_code == 404
    assert "You have not made a choice yet: there is no receipt to download." in (
        response.get_data(as_text=True)
    )
    assert "/cookies/receipt" not in client.get("/cookies").get_data(as_text=True)


def test_the_policy_page_links_to_the_receipt_after_a_choice(app: Any) -> None:
    client, _ = _chosen(app)
    page = client.get("/cookies").get_data(as_text=True)
    assert '<a href="/cookies/receipt" download>Download a receipt of my choice</a>' in page


def test_the_receipt_is_a_private_download_of_the_visitors_record(app: Any) -> None:
    client, consent_id = _chosen(app)
    response = _receipt(client)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="cookie-consent-receipt-{consent_id}.json"'
    )
    cache_control = {d.strip() for d in response.headers["Cache-Control"].split(",")}
    assert {"private", "no-store"} <= cache_control
    receipt = json.loads(response.get_data(as_text=True))
    (record,) = call_action("cookieconsent_record_show", consent_id=consent_id)["records"]
    assert receipt["schema_version"] == proof.RECEIPT_SCHEMA
    assert receipt["pii_principal_id"] == consent_id
    assert receipt["timestamp"] == record["created"]
    assert (receipt["collection_method"], receipt["language"]) == ("banner", "en")
    assert receipt["consent_status"] == "given"
    assert [(p["purpose_id"], p["consent_status"]) for p in receipt["purposes"]] == [
        ("necessary", "not_asked"),
        ("statistics", "refused"),
        ("media", "given"),
    ]
    assert receipt["purposes"][2]["purpose"] == "Third-party content"
    assert receipt["notice"] == {
        "revision": record["revision"],
        "sha256": record["texts_sha256"],
        "language": "en",
    }
    assert record["texts_sha256"] is not None
    assert receipt["controller"] == {
        "name": "Open data of Somewhere",
        "url": "http://test.ckan.net",
    }
    assert receipt["signature"]["algorithm"] == "HMAC-SHA256"
    assert len(receipt["signature"]["value"]) == 64


def test_a_receipt_describes_the_last_choice(app: Any) -> None:
    client, _ = _chosen(app)
    _choose(client, "refuse_all", origin="policy")
    receipt = json.loads(_receipt(client).get_data(as_text=True))
    assert (receipt["collection_method"], receipt["consent_status"]) == ("withdrawal", "withdrawn")
    assert {p["consent_status"] for p in receipt["purposes"]} == {"not_asked", "refused"}


# --- Verification --------------------------------------------------------------------------


def _verify_cli(tmp_path: Path, content: str | bytes) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "receipt.json"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    ini = tmp_path / "ckan.ini"
    database = os.environ["CKAN_SQLALCHEMY_URL"]  # tests/conftest.py: the session's PostgreSQL
    ini.write_text(ckan_ini(site_id=SITE_ID, database=database))
    env = {k: v for k, v in os.environ.items() if k != "CKAN_INI"}
    command = [CKAN, "-c", str(ini), "cookieconsent", "verify", str(path)]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


def _downloaded(app: Any) -> dict[str, Any]:
    client, _ = _chosen(app)
    return json.loads(_receipt(client).get_data(as_text=True))


def _resigned(receipt: dict[str, Any]) -> dict[str, Any]:
    """`receipt` signed again with this portal's key (as only the portal can)."""
    body = {k: v for k, v in receipt.items() if k != "signature"}
    return {**body, "signature": {"algorithm": "HMAC-SHA256", "value": proof.sign(body)}}


def test_the_cli_says_a_genuine_receipt_is_valid(app: Any, tmp_path: Path) -> None:
    receipt = _downloaded(app)
    result = _verify_cli(tmp_path, json.dumps(receipt))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("Receipt VALID: signed by this portal, and record ")
    assert receipt["pii_principal_id"] in result.stdout


def test_the_cli_refuses_a_tampered_receipt(app: Any, tmp_path: Path) -> None:
    """A field changed, the signature kept: the signature no longer matches, and the
    record kept says otherwise."""
    receipt = _downloaded(app)
    tampered = copy.deepcopy(receipt)
    tampered["purposes"][1]["consent_status"] = "given"  # statistics, refused
    result = _verify_cli(tmp_path, json.dumps(tampered))
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        f"Receipt NOT VALID (record {receipt['record_id']} of consent id"
        f" {receipt['pii_principal_id']}):",
        "  - the signature does not match: the receipt was altered, forged, or signed by"
        " another portal (another secret).",
        "  - the record kept differs in: purposes.",
    ]
    assert "Traceback" not in result.stderr


def test_the_cli_refuses_a_forged_signature(app: Any, tmp_path: Path) -> None:
    receipt = _downloaded(app)
    forged = {**receipt, "signature": {"algorithm": "HMAC-SHA256", "value": "0" * 64}}
    result = _verify_cli(tmp_path, json.dumps(forged))
    assert result.returncode == 1
    assert "the signature does not match" in result.stdout
    assert "the record kept differs" not in result.stdout  # the record itself agrees


def test_the_cli_refuses_a_receipt_of_an_unknown_consent_id(app: Any, tmp_path: Path) -> None:
    """Even signed with the portal's key: no record of that consent id is kept."""
    receipt = _resigned({**_downloaded(app), "pii_principal_id": "U" * 16})
    result = _verify_cli(tmp_path, json.dumps(receipt))
    assert result.returncode == 1
    assert "the signature does not match" not in result.stdout
    assert f"no consent record {receipt['record_id']} of consent id {'U' * 16} is kept" in (
        result.stdout
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not a valid receipt: not valid JSON"),
        ("[]", "is not a valid receipt: expected a JSON object"),
        (
            '{"schema_version": "ckanext-cookieconsent-receipt/1"}',
            "the field 'record_id' is missing",
        ),
        ("[" * 100_000, "is not a valid receipt: not valid JSON"),
    ],
    ids=["malformed", "not-an-object", "missing-field", "deeply-nested"],
)
def test_the_cli_says_what_is_wrong_with_a_malformed_receipt(
    app: Any, tmp_path: Path, content: str, message: str
) -> None:
    result = _verify_cli(tmp_path, content)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_cli_refuses_a_truncated_receipt(app: Any, tmp_path: Path) -> None:
    text = json.dumps(_downloaded(app), indent=2)
    result = _verify_cli(tmp_path, text[: len(text) // 2])
    assert result.returncode == 2
    assert "is not a valid receipt: not valid JSON" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_action_checks_the_record_as_well_as_the_signature(app: Any) -> None:
    """A receipt signed with the portal's key but saying another time: the record differs."""
    receipt = _downloaded(app)
    assert call_action("cookieconsent_receipt_verify", receipt=receipt)["valid"] is True
    moved = _resigned({**receipt, "timestamp": "2026-01-01T00:00:00+00:00"})
    result = call_action("cookieconsent_receipt_verify", receipt=json.dumps(moved))
    assert (result["valid"], result["signature_valid"], result["record_found"]) == (
        False,
        True,
        True,
    )
    assert result["problems"] == ["the record kept differs in: timestamp."]


def test_the_action_is_for_sysadmins_only(app: Any) -> None:
    response = app.post(
        "/api/3/action/cookieconsent_receipt_verify", json={"receipt": {}}, status=403
    )
    assert response.json["success"] is False


def test_the_action_refuses_a_receipt_of_the_wrong_shape(app: Any) -> None:
    import ckan.plugins.toolkit as tk

    with pytest.raises(tk.ValidationError) as error:
        call_action("cookieconsent_receipt_verify", receipt={"purposes": "all"})
    assert error.value.error_dict["receipt"] == [
        "Not a valid receipt: the field 'schema_version' is missing."
    ]


def test_a_receipt_with_a_lone_surrogate_is_refused_not_a_crash(app: Any) -> None:
    """JSON may hold "\\ud800", which UTF-8 cannot encode: a verdict, not an error."""
    receipt = _downloaded(app)
    text = json.dumps(receipt).replace('"language": "en"', '"language": "\\ud800"', 1)
    assert "\\ud800" in text
    result = call_action("cookieconsent_receipt_verify", receipt=text)
    assert (result["valid"], result["signature_valid"]) == (False, False)
    assert "the record kept differs in: language." in result["problems"]

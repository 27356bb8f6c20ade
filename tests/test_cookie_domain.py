"""One consent across the portal's sites (ckanext.cookieconsent.cookie_domain), through
CKAN's app: the preferences cookie's Domain, the host-only copy it replaces, refused cookies
deleted on the shared domain, the start-up checks, the documented verification recipe run
against cookies CKAN made, and the JavaScript reader (node) with hostile cookie values.

test.ini's site is http://test.ckan.net, so `.ckan.net` is a domain it may share.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import ckan.plugins as p
import ckan.plugins.toolkit as tk
import pytest
from ckan.exceptions import CkanConfigurationException
from helpers import EXAMPLE, PLUGIN_MARKS, PREFERENCES, ROOT, choose, set_cookie_headers

from ckanext.cookieconsent import catalogue, config, consent

pytestmark = [*PLUGIN_MARKS, pytest.mark.ckan_config("ckanext.cookieconsent.catalogue", EXAMPLE)]

SHARED = pytest.mark.ckan_config("ckanext.cookieconsent.cookie_domain", ".ckan.net")
DOC = ROOT / "docs" / "preferences-cookie.md"
READER = ROOT / "ckanext" / "cookieconsent" / "public" / "cookieconsent" / "reader.js"


def _attributes(header: str) -> dict[str, str]:
    """A Set-Cookie header's attributes, lowercase names (the value under "")."""
    pairs = [part.strip().partition("=") for part in header.split(";")]
    return {("" if i == 0 else k.lower()): v for i, (k, _, v) in enumerate(pairs)}


def _preferences(response: Any) -> list[dict[str, str]]:
    return [_attributes(h) for h in set_cookie_headers(response, PREFERENCES)]


# --- The preferences cookie's Domain ------------------------------------------------------


def test_without_the_option_the_cookie_is_the_hosts_only(app: Any) -> None:
    [cookie] = _preferences(choose(app.test_client(), "accept_all"))
    assert "domain" not in cookie
    assert cookie["max-age"] == "15552000"


@SHARED
def test_with_the_option_the_cookie_carries_the_domain(app: Any) -> None:
    [cookie] = _preferences(choose(app.test_client(), "accept_all"))
    assert cookie.get("domain") == "ckan.net"
    assert cookie["path"] == "/" and cookie["samesite"] == "Lax"
    assert cookie["max-age"] == "15552000" and cookie[""].startswith("1:")


@SHARED
def test_writing_the_shared_cookie_deletes_the_host_only_copy(app: Any) -> None:
    """A choice stored before the option (host-only) must not stay beside the shared one:
    two cookies of the name that disagree. The deletion targets the host-only copy alone."""
    client = app.test_client()
    old = choose(client, "accept_all")  # the request carries no cookie: nothing to delete
    assert len(_preferences(old)) == 1
    client.set_cookie(PREFERENCES, _preferences(old)[0][""], domain="test.ckan.net")
    deleted, written = _preferences(choose(client, "refuse_all"))
    assert "domain" not in deleted and deleted["max-age"] == "0" and deleted[""] == ""
    assert written["domain"] == "ckan.net" and written["max-age"] == "15552000"
    assert written[""].split(":")[4] == ""  # the new choice: all refused


@SHARED
def test_the_refusal_gpc_implies_is_shared_too(app: Any) -> None:
    client = app.test_client()
    client.set_cookie("ckan", "session", domain="test.ckan.net")  # it keeps cookies
    [cookie] = _preferences(client.get("/about", headers={"Sec-GPC": "1"}))
    assert cookie["domain"] == "ckan.net" and cookie[""].split(":")[4] == ""


# --- Refused cookies, deleted on the shared domain too -------------------------------------


def _deleted_domains(response: Any, name: str) -> set[str]:
    cookies = [_attributes(h) for h in set_cookie_headers(response, name)]
    assert all(c["max-age"] == "0" for c in cookies), cookies
    return {c.get("domain", "") for c in cookies}


@SHARED
def test_refusal_deletes_refused_cookies_on_the_host_and_the_shared_domain(app: Any) -> None:
    client = app.test_client()
    choose(client, "accept_all")
    # Set by the CMS on the shared domain (HttpOnly for all CKAN knows: it sees names only).
    client.set_cookie("_pk_id.1.abcd", "x", domain="test.ckan.net")
    client.set_cookie("YSC", "x", domain="test.ckan.net")
    response = choose(client, "refuse_all")
    assert _deleted_domains(response, "_pk_id.1.abcd") == {"", "ckan.net"}
    # The catalogue's own domain stays, and so does the host-only copy.
    assert _deleted_domains(response, "YSC") == {"", "ckan.net", "youtube.com"}


def test_without_the_option_refused_cookies_are_deleted_as_before(app: Any) -> None:
    client = app.test_client()
    choose(client, "accept_all")
    client.set_cookie("_pk_id.1.abcd", "x", domain="test.ckan.net")
    client.set_cookie("YSC", "x", domain="test.ckan.net")
    response = choose(client, "refuse_all")
    assert _deleted_domains(response, "_pk_id.1.abcd") == {""}
    assert _deleted_domains(response, "YSC") == {"", "youtube.com"}


# --- Start-up checks ----------------------------------------------------------------------


def _restart(ckan_config: Any, **options: str) -> None:
    """Load the plugins again, as CKAN does at start-up, with these options."""
    for key, value in options.items():
        ckan_config[key if "." in key else f"ckanext.cookieconsent.{key}"] = value
    p.unload_all()
    p.load_all()


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"cookie_domain": "192.168.0.1"}, "an IP address cannot be shared"),
        ({"cookie_domain": "[::1]"}, "an IP address cannot be shared"),
        ({"cookie_domain": ".net"}, "a single label is a top-level domain or one host"),
        ({"cookie_domain": "localhost", "ckan.site_url": "http://localhost:5000"},
         "a single label is a top-level domain or one host"),
        ({"cookie_domain": ".example.org"}, "ckan.site_url = http://test.ckan.net is not on"),
        ({"cookie_domain": "st.ckan.net"}, "ckan.site_url = http://test.ckan.net is not on"),
        ({"cookie_domain": "data.test.ckan.net"}, "is not on this domain"),
        ({"cookie_domain": "ckan.net:5000"}, "expected a domain name such as .example.org"),
        ({"cookie_domain": "ckan_net.org"}, "expected a domain name such as .example.org"),
        ({"cookie_domain": "ckan.net", "ckan.site_url": "http://10.0.0.1"}, "is not on"),
        ({"cookie_domain": ".ckan.net", "cookie_name": "__Host-preferences"},
         "cookie_name = __Host-preferences starts with __Host-"),
    ],
)  # fmt: skip
def test_ckan_refuses_to_start_with_a_domain_browsers_would_refuse(
    ckan_config: Any, options: dict[str, str], expected: str
) -> None:
    try:
        with pytest.raises(CkanConfigurationException) as refused:
            _restart(ckan_config, **options)
    finally:
        p.unload_all()
    message = str(refused.value)
    assert message.startswith(f"ckanext.cookieconsent.cookie_domain = {options['cookie_domain']}:")
    assert expected in message


@pytest.mark.parametrize("domain", ["", "ckan.net", ".ckan.net", "test.ckan.net", ".CKAN.net"])
def test_ckan_starts_with_the_sites_host_or_a_parent_domain(ckan_config: Any, domain: str) -> None:
    try:
        _restart(ckan_config, cookie_domain=domain)
        assert p.plugin_loaded("cookieconsent")
        assert config.cookie_domain() == (domain.lower().lstrip(".") or None)
    finally:
        p.unload_all()


def test_a_host_prefixed_name_is_fine_without_a_domain(ckan_config: Any) -> None:
    try:
        _restart(ckan_config, cookie_name="__Host-preferences", cookie_domain="")
        assert p.plugin_loaded("cookieconsent")
    finally:
        p.unload_all()


# --- The documented recipe, run against CKAN's own cookies -------------------------------


def _documented_recipe() -> Any:
    """`read_preferences` from the Python block of docs/preferences-cookie.md, as written."""
    text = DOC.read_text()
    block = text.split("<!-- verify:start -->", 1)[1].split("<!-- verify:end -->", 1)[0]
    code = re.fullmatch(r"\s*```python\n(.*)```\s*", block, re.S)
    assert code is not None, "the recipe is no longer one ```python block between the markers"
    namespace: dict[str, Any] = {}
    exec(compile(code.group(1), str(DOC), "exec"), namespace)
    return namespace["read_preferences"]


@SHARED
def test_the_documented_recipe_reads_what_ckan_wrote(app: Any) -> None:
    read_preferences = _documented_recipe()
    secret = tk.config.get("SECRET_KEY")
    client = app.test_client()
    value = _preferences(choose(client, "save", granted=["media"]))[-1][""]
    ours = consent.parse(
        value, catalogue.current(), consent.signing_key(secret), config.cookie_max_age()
    )
    assert ours is not None
    assert read_preferences(value, secret) == {
        "revision": catalogue.current().revision,
        "made_at": ours.made_at,
        "consent_id": ours.consent_id,
        "granted": ["media"],
    }
    client.set_cookie(PREFERENCES, value, domain="test.ckan.net")
    everything = _preferences(choose(client, "accept_all"))[-1][""]
    assert read_preferences(everything, secret)["granted"] == ["media", "statistics"]
    assert read_preferences(everything, secret)["consent_id"] == ours.consent_id


def test_the_documented_recipe_refuses_what_ckan_refuses(app: Any) -> None:
    read_preferences = _documented_recipe()
    secret = tk.config.get("SECRET_KEY")
    value = _preferences(choose(app.test_client(), "accept_all"))[0][""]
    fields = value.split(":")
    forged = ":".join([*fields[:4], "media/statistics/marketing", fields[5]])
    old_payload = ":".join([*fields[:2], str(int(time.time()) - 86401), *fields[3:5]])
    old = f"{old_payload}:{consent._sign(old_payload, consent.signing_key(secret))}"
    assert read_preferences(value, secret) is not None
    assert read_preferences(value, "another secret") is None
    assert read_preferences(forged, secret) is None
    assert read_preferences(old, secret, max_age=86400) is None
    assert read_preferences(old, secret) is not None  # within the default six months
    arabic_one = "\u0661:"  # a digit to Unicode, not to the format
    for hostile in ["", "1:x", value + "\n", value.replace("1:", arabic_one, 1), "A" * 100_000]:
        assert read_preferences(hostile, secret) is None, hostile[:40]


# --- The reader: served by CKAN, and hostile cookie values --------------------------------


def test_ckan_serves_the_reader_at_its_stable_url(app: Any) -> None:
    response = app.get("/cookieconsent/reader.js")
    assert response.status_code == 200
    assert "javascript" in response.headers["Content-Type"]
    assert response.get_data() == READER.read_bytes()


NODE = shutil.which("node")

# Runs the reader as a page would, with `window` and `document.cookie`, on each cookie
# string (the cases on stdin); prints one JSON answer per line (null, or the choice
# without its function).
_RUN_READER = """
const vm = require("vm");
const source = require("fs").readFileSync(process.argv[1], "utf8");
const cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
for (const c of cases) {
  const window = {document: {cookie: c.cookie}};
  vm.runInNewContext(source, {window, Date});
  const choice = window.CookieConsentReader.read(c.options);
  console.log(JSON.stringify(choice && {
    revision: choice.revision, madeAt: choice.madeAt, consentId: choice.consentId,
    granted: choice.granted, date: choice.date.toISOString(),
    allowsMedia: choice.allows("media"), allowsToString: choice.allows("toString"),
  }));
}
"""


def _read_in_node(cases: list[dict[str, Any]]) -> list[Any]:
    if NODE is None:
        pytest.skip("node is not installed")
    out = subprocess.run(
        [NODE, "-e", _RUN_READER, str(READER)],
        input=json.dumps(cases), capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_the_reader_reads_a_choice_ckan_made(app: Any) -> None:
    value = _preferences(choose(app.test_client(), "save", granted=["media"]))[0][""]
    made_at = int(value.split(":")[2])
    cookie = f"ckan=abc; {PREFERENCES}={value}; _ga=GA1.1.1"
    [choice, renamed] = _read_in_node(
        [{"cookie": cookie}, {"cookie": f"prefs={value}", "options": {"name": "prefs"}}]
    )
    assert choice == {
        "revision": catalogue.current().revision, "madeAt": made_at,
        "consentId": value.split(":")[3], "granted": ["media"],
        "date": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(made_at)),
        "allowsMedia": True, "allowsToString": False,
    }  # fmt: skip
    assert renamed == choice


def test_the_reader_takes_hostile_values_for_no_choice() -> None:
    now = int(time.time())
    good = f"1:rev1:{now}:{'A' * 16}:media:{'s' * 16}"
    other = f"1:rev1:{now}:{'B' * 16}:media/statistics:{'t' * 16}"
    name = PREFERENCES
    hostile = [
        "",
        f"{name}=",
        f"{name}=garbage",
        f"{name}={good}:extra",
        f"{name}=2:rev1:{now}:{'A' * 16}:media:{'s' * 16}",  # another version
        f"{name}=1:rev1:{now}:{'A' * 16}:media//x:{'s' * 16}",  # an empty category id
        f"{name}=1:rev1:{now}:{'A' * 16}:Media:{'s' * 16}",  # outside the alphabet
        f"{name}=1:rev1:{now + 3600}:{'A' * 16}:media:{'s' * 16}",  # from the future
        f"{name}=1:rev1:{now - 15552001}:{'A' * 16}:media:{'s' * 16}",  # expired
        f"{name}=1:{'r' * 600}:{now}:{'A' * 16}:media:{'s' * 16}",  # over 512 characters
        f"{name}=" + "1:" * 200_000,  # huge
        f"{name}={good}; {name}={other}",  # two that disagree: one was planted
        f"{name}={good}; {name}={good.replace('media', 'statistics')}",
        f"x{name}={good}; {name}x={good}",  # other names
        f"{name}={good}\u0660",
    ]
    assert _read_in_node([{"cookie": c} for c in hostile]) == [None] * len(hostile)
    kept = _read_in_node(
        [
            {"cookie": f"{name}=garbage; {name}={good}"},  # garbage beside: ignored
            {"cookie": f"{name}={good}; {name}={good}"},  # the same twice
            {"cookie": f"{name}=1:rev1:{now - 15552001}:{'A' * 16}:media:{'s' * 16}",
             "options": {"maxAge": 0}},  # no age limit asked
        ]
    )  # fmt: skip
    assert [c and c["granted"] for c in kept] == [["media"], ["media"], ["media"]]


def test_the_reader_needs_no_dependency() -> None:
    source = READER.read_text()
    assert "require(" not in source and "import " not in source
    assert Path(READER).stat().st_size < 5000

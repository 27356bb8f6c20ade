"""The preferences cookie: its format, its size, and every way a value can be refused."""

from __future__ import annotations

import time

import pytest
from helpers import EXAMPLE, VALUES

from ckanext.cookieconsent import catalogue, consent

SECRET = consent.signing_key("test-secret")
MAX_AGE = int(VALUES["preferences_max_age"])


@pytest.fixture(scope="module")
def portal() -> catalogue.Catalogue:
    return catalogue.load(EXAMPLE, VALUES)


def _roundtrip(value: str, portal: catalogue.Catalogue) -> consent.Choice | None:
    return consent.parse(value, portal, SECRET, MAX_AGE)


def test_a_choice_survives_serialisation(portal: catalogue.Catalogue) -> None:
    choice = consent.new_choice(portal, ["media"], None)
    parsed = _roundtrip(consent.serialise(choice, SECRET), portal)
    assert parsed == choice
    assert parsed.allows("media") and parsed.allows("necessary")
    assert not parsed.allows("statistics")


def test_format_is_documented_version_one(portal: catalogue.Catalogue) -> None:
    choice = consent.new_choice(portal, ["statistics", "media"], None)
    fields = consent.serialise(choice, SECRET).split(":")
    assert fields[0] == "1"
    assert fields[1] == portal.revision
    assert abs(int(fields[2]) - time.time()) < 5
    assert len(fields[3]) == 16
    assert fields[4] == "media/statistics"
    assert len(fields[5]) == consent.SIGNATURE_LENGTH


def test_ten_categories_fit_in_under_200_bytes(tmp_path) -> None:
    ids = ["statistics", "media", "marketing", "social", "maps", "videos", "support",
           "surveys", "personalise", "newsletter"]  # fmt: skip
    lines = ["categories:"]
    lines += [f"  - {{id: {i}, title: {i}, description: {i}}}" for i in ids]
    lines += ["cookies:"]
    lines += [
        f"  - {{name: c_{i}, category: {i}, provider: P, service: S, purpose: P, duration: 1 day}}"
        for i in ids
    ]
    path = tmp_path / "ten.yaml"
    path.write_text("\n".join(lines))
    ten = catalogue.load(str(path), VALUES)
    value = consent.serialise(consent.new_choice(ten, ids, None), SECRET)
    assert len(ten.optional_category_ids) == 10
    assert len(f"cookies_preferences={value}".encode()) < 200


def test_changing_ones_mind_keeps_the_consent_id(portal: catalogue.Catalogue) -> None:
    first = consent.new_choice(portal, ["media"], None)
    second = consent.new_choice(portal, [], first.consent_id)
    assert second.consent_id == first.consent_id
    assert consent.new_choice(portal, [], "not-an-id").consent_id != "not-an-id"


def test_unknown_and_required_categories_are_not_stored(portal: catalogue.Catalogue) -> None:
    choice = consent.new_choice(portal, ["necessary", "ads", "media"], None)
    assert choice.granted == frozenset({"media"})


def _valid(portal: catalogue.Catalogue) -> str:
    return consent.serialise(consent.new_choice(portal, ["media"], None), SECRET)


def _resigned(payload: str) -> str:
    return _signed_with(payload, None)


def _signed_with(payload: str, secret_key: str | None) -> str:
    key = SECRET if secret_key is None else consent.signing_key(secret_key)
    return f"{payload}:{consent._sign(payload, key)}"


@pytest.mark.parametrize(
    ("label", "make"),
    [
        ("empty", lambda v: ""),
        ("garbage", lambda v: "not a consent cookie"),
        ("too few fields", lambda v: ":".join(v.split(":")[:5])),
        ("forged signature", lambda v: v[:-4] + "AAAA"),
        ("forged choice", lambda v: v.replace(":media:", ":media/statistics:")),
        ("oversized", lambda v: v + "x" * consent.MAX_COOKIE_BYTES),
        ("other version", lambda v: _resigned("2" + v.rsplit(":", 1)[0][1:])),
        ("other revision", lambda v: _resigned(v.rsplit(":", 1)[0].replace(
            v.split(":")[1], "00000000"))),
        ("unknown category", lambda v: _resigned(v.rsplit(":", 1)[0].replace(":media", ":ads"))),
        ("bad time", lambda v: _resigned(":".join(
            [*v.split(":")[:2], "soon", *v.split(":")[3:5]]))),
        ("bad consent id", lambda v: _resigned(":".join(
            [*v.split(":")[:3], "short", v.split(":")[4]]))),
        ("expired", lambda v: _resigned(":".join(
            [*v.split(":")[:2], str(int(time.time()) - MAX_AGE - 60), *v.split(":")[3:5]]))),
        ("from the future", lambda v: _resigned(":".join(
            [*v.split(":")[:2], str(int(time.time()) + 3600), *v.split(":")[3:5]]))),
        # The same payload (right revision, time, id), signed with another portal's key:
        # only the HMAC check can refuse it.
        ("other key", lambda v: _signed_with(v.rsplit(":", 1)[0], "another portal's secret")),
        ("non-ascii signature", lambda v: v[:-1] + "é"),
        ("newline after the consent id", lambda v: _resigned(":".join(
            [*v.split(":")[:3], v.split(":")[3] + "\n", v.split(":")[4]]))),
    ],
)  # fmt: skip
def test_a_bad_value_means_no_choice_yet(portal: catalogue.Catalogue, label: str, make) -> None:
    assert _roundtrip(_valid(portal), portal) is not None
    assert _roundtrip(make(_valid(portal)), portal) is None, label


def test_default_choice_keeps_exempt_categories_on(portal: catalogue.Catalogue) -> None:
    choice = consent.default_choice(portal, gpc=False)
    assert (choice.source, choice.allows("statistics"), choice.allows("media")) == (
        "none",
        True,
        False,
    )


def test_global_privacy_control_refuses_every_optional_category(
    portal: catalogue.Catalogue,
) -> None:
    choice = consent.default_choice(portal, gpc=True)
    assert choice.source == "gpc"
    assert not choice.allows("statistics") and not choice.allows("media")
    assert choice.allows("necessary")

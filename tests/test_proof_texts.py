"""The texts visitors were shown, kept as proof (proof.py): the banner and the policy page
as rendered, stored once per revision and language with their SHA-256, linked from every
record, shown by cookieconsent_record_show and the dashboard, kept while a record links to
them. With the real CKAN and PostgreSQL."""

from __future__ import annotations

import datetime
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from ckan import model
from ckan.tests import factories
from ckan.tests.helpers import call_action
from helpers import EXAMPLE, PLUGIN_MARKS
from helpers import choose as _choose
from helpers import consent_id as _consent_id
from record_factories import consent_record, now

from ckanext.cookieconsent import proof, rendering
from ckanext.cookieconsent.model import ConsentRecord, ShownTexts

pytestmark = [
    *PLUGIN_MARKS,
    pytest.mark.ckan_config("ckanext.cookieconsent.catalogue", EXAMPLE),
    pytest.mark.usefixtures("consent_tables"),
]


def _texts() -> list[ShownTexts]:
    model.Session.expire_all()
    return model.Session.query(ShownTexts).order_by(ShownTexts.language).all()


def _records() -> list[ConsentRecord]:
    model.Session.expire_all()
    return model.Session.query(ConsentRecord).order_by(ConsentRecord.id).all()


def test_two_choices_store_the_texts_once_and_both_records_link_to_them(app: Any) -> None:
    _choose(app.test_client(), "accept_all")
    _choose(app.test_client(), "refuse_all")
    (texts,) = _texts()
    assert (texts.language, len(texts.sha256)) == ("en", 64)
    assert [r.texts_id for r in _records()] == [texts.id, texts.id]


def test_french_and_english_choices_store_two_texts(app: Any) -> None:
    _choose(app.test_client(), "accept_all")
    _choose(app.test_client(), "accept_all", path="/fr/cookies/consent")
    english, french = _texts()
    assert (english.language, french.language) == ("en", "fr")
    assert english.revision == french.revision
    assert "Third-party content" in english.policy and "Contenus tiers" in french.policy
    assert "Accept all" in english.banner and "Tout accepter" in french.banner
    # How long the proof is kept, as the policy page says it (retention_days: 760).
    assert "We keep a record of each choice, as proof of consent, for 760 days." in english.policy
    assert "comme preuve du consentement, pendant 760\xa0jours." in french.policy
    by_language = {r.language: r.texts_id for r in _records()}
    assert by_language == {"en": english.id, "fr": french.id}


def test_the_hash_is_the_sha256_of_the_canonical_stored_texts(app: Any) -> None:
    _choose(app.test_client(), "accept_all")
    (texts,) = _texts()
    canonical = proof.canonical(texts.revision, texts.language, texts.banner, texts.policy)
    assert texts.sha256 == hashlib.sha256(canonical).hexdigest()
    # The canonical form: sorted keys, no whitespace between tokens, UTF-8.
    assert canonical.startswith(b'{"banner":"')
    assert json.loads(canonical.decode("utf-8")) == {
        "banner": texts.banner,
        "format": proof.TEXTS_FORMAT,
        "language": "en",
        "policy": texts.policy,
        "revision": texts.revision,
    }


@pytest.mark.parametrize("prefix", ["", "/fr"], ids=["en", "fr"])
def test_the_stored_banner_is_the_one_the_visitors_page_showed(app: Any, prefix: str) -> None:
    """The banner of a first visit's page, its two per-visitor slots (CSRF field, return
    path) aside, is exactly the stored one (its links to the policy page in that language's
    URLs included)."""
    client = app.test_client()
    page = client.get(f"{prefix}/about").get_data(as_text=True)
    assert 'id="cookieconsent-banner"' in page
    _choose(client, "accept_all", path=f"{prefix}/cookies/consent")
    (texts,) = _texts()
    assert rendering.CSRF_MARKER in texts.banner and rendering.CAME_FROM_MARKER in texts.banner
    start = page.index('<section id="cookieconsent-banner"')
    csrf_field = re.search(r'<input type="hidden" name="_csrf_token" value="[^"]+"/>', page[start:])
    assert csrf_field, "no CSRF field in the page's banner"
    shown = texts.banner.replace(rendering.CSRF_MARKER, csrf_field.group(0)).replace(
        rendering.CAME_FROM_MARKER, f"{prefix}/about"
    )
    assert f'href="{prefix}/cookies"' in shown
    # Exactly, its leading whitespace (the snippet's comments and settings) included.
    assert shown.lstrip().startswith('<section id="cookieconsent-banner"')
    assert page[start - (len(shown) - len(shown.lstrip())) :].startswith(shown)


def test_the_stored_policy_is_the_pages_main_content_without_the_visitors_state(
    app: Any,
) -> None:
    client = app.test_client()
    consent_id = _consent_id(_choose(client, "save", granted="media"))
    page = client.get("/cookies").get_data(as_text=True)
    (texts,) = _texts()
    assert texts.policy.startswith("<article") and texts.policy.endswith("</article>")
    # The parts of the page before and after the visitor's choice, as they show them.
    before, after = texts.policy.split("<h2>The cookies of this portal</h2>", 1)
    assert before.rstrip().removesuffix("</div>").strip()[:200] in page
    assert "<h2>The cookies of this portal</h2>" + after in page
    for name in ("YSC", "_pk_id.*", "cookies_preferences"):
        assert name in texts.policy
    # Nothing of any visitor: no form, no consent id, no token.
    assert "cookieconsent-choice" not in texts.policy and "<form" not in texts.policy
    assert consent_id not in texts.policy + texts.banner
    assert "_csrf_token" not in texts.policy + texts.banner


def test_record_show_returns_each_record_with_its_texts(app: Any) -> None:
    consent_id = _consent_id(_choose(app.test_client(), "accept_all"))
    (texts,) = _texts()
    sysadmin = {"Authorization": factories.SysadminWithToken()["token"]}
    body = app.get(
        "/api/3/action/cookieconsent_record_show",
        query_string={"consent_id": consent_id},
        headers=sysadmin,
    ).json
    (record,) = body["result"]["records"]
    assert record["texts_sha256"] == texts.sha256
    assert record["texts"] == {
        "sha256": texts.sha256,
        "language": "en",
        "banner": texts.banner,
        "policy": texts.policy,
    }


def test_a_record_made_before_texts_were_kept_shows_none(app: Any) -> None:
    consent_record(consent_id="B" * 16)
    (record,) = call_action("cookieconsent_record_show", consent_id="B" * 16)["records"]
    assert (record["texts_sha256"], record["texts"]) == (None, None)


def test_the_dashboard_shows_a_consent_ids_records_next_to_their_texts(app: Any) -> None:
    consent_id = _consent_id(_choose(app.test_client(), "save", granted="media"))
    (texts,) = _texts()
    sysadmin = {"Authorization": factories.SysadminWithToken()["token"]}
    dashboard = app.get("/ckan-admin/cookies", headers=sysadmin).get_data(as_text=True)
    assert 'action="/ckan-admin/cookies/record"' in dashboard
    assert '<label for="cookieconsent-lookup-id">' in dashboard
    page = app.get(
        "/ckan-admin/cookies/record", query_string={"consent_id": consent_id}, headers=sysadmin
    ).get_data(as_text=True)
    assert texts.sha256 in page
    # The texts as source, escaped: never a live form inside the admin page.
    assert "&lt;section id=&#34;cookieconsent-banner&#34;" in page
    # (The one live banner is the page's own: this admin has made no choice.)
    assert page.count('<section id="cookieconsent-banner"') == 1
    unknown = app.get(
        "/ckan-admin/cookies/record", query_string={"consent_id": "U" * 16}, headers=sysadmin
    ).get_data(as_text=True)
    assert "No consent record has this id." in unknown


def test_only_sysadmins_see_the_record_page(app: Any) -> None:
    user = {"Authorization": factories.UserWithToken()["token"]}
    app.get("/ckan-admin/cookies/record", query_string={"consent_id": "U" * 16}, status=403)
    app.get(
        "/ckan-admin/cookies/record",
        query_string={"consent_id": "U" * 16},
        headers=user,
        status=403,
    )


def _stored_texts(sha_seed: str, created: datetime.datetime, revision: str) -> str:
    """Texts stored at `created`; their hash."""
    texts = proof.Texts(revision, "en", f"<section>{sha_seed}</section>", "<article></article>")
    model.Session.add(
        ShownTexts(
            sha256=texts.sha256,
            revision=revision,
            language="en",
            created=created,
            banner=texts.banner,
            policy=texts.policy,
        )
    )
    model.Session.commit()
    return texts.sha256


def _link(consent_id: str, sha256: str) -> None:
    """Make the records of `consent_id` link to the texts of hash `sha256`."""
    texts_id = sa.select(ShownTexts.__table__.c.id).where(ShownTexts.__table__.c.sha256 == sha256)
    model.Session.execute(
        sa.update(ConsentRecord.__table__)
        .where(ConsentRecord.__table__.c.consent_id == consent_id)
        .values(texts_id=texts_id.scalar_subquery())
    )
    model.Session.commit()


def test_purge_keeps_the_texts_a_record_links_to(app: Any) -> None:
    """Texts live as long as a record links to them: old texts linked by a young record
    stay, old texts whose last record went go, and the texts of today's choice stay."""
    _choose(app.test_client(), "accept_all")
    (current,) = _texts()
    long_ago = now() - datetime.timedelta(days=500)
    old = consent_record(long_ago, consent_id="O" * 16)  # the seeded revision
    linked_by_old = _stored_texts("old", long_ago, old.revision)
    linked_by_young = _stored_texts("young", long_ago, old.revision)
    _link("O" * 16, linked_by_old)
    consent_record(now() - datetime.timedelta(days=10), consent_id="Y" * 16)
    _link("Y" * 16, linked_by_young)

    result = call_action("cookieconsent_record_purge", older_than=400)

    assert result["records"] == 1
    kept = {t.sha256 for t in _texts()}
    assert kept == {current.sha256, linked_by_young}
    assert linked_by_old not in kept


def test_the_database_refuses_deleting_texts_a_record_links_to(app: Any) -> None:
    _choose(app.test_client(), "accept_all")
    (texts,) = _texts()
    with pytest.raises(sa.exc.IntegrityError):
        model.Session.execute(
            sa.delete(ShownTexts.__table__).where(ShownTexts.__table__.c.id == texts.id)
        )
        model.Session.commit()
    model.Session.rollback()


def test_texts_lost_from_the_database_are_stored_again(app: Any) -> None:
    """A process that believes the texts stored (a restore removed them) stores them again
    with the next record, which still links to them."""
    _choose(app.test_client(), "accept_all")
    model.Session.execute(sa.text("UPDATE cookieconsent_record SET texts_id = NULL"))
    model.Session.execute(sa.text("DELETE FROM cookieconsent_texts"))
    model.Session.commit()
    _choose(app.test_client(), "refuse_all")
    (texts,) = _texts()
    assert _records()[-1].texts_id == texts.id


@pytest.mark.ckan_config(
    "extra_template_paths", str(Path(__file__).parent / "broken_policy_theme" / "templates")
)
def test_a_choice_is_recorded_when_its_texts_cannot_be_rendered(
    app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    response = _choose(app.test_client(), "accept_all")
    assert response.status_code == 303
    (record,) = _records()
    assert (record.consent_id, record.texts_id) == (_consent_id(response), None)
    assert _texts() == []
    assert "Could not render the texts shown" in caplog.text

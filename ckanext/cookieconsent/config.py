"""Typed accessors for the extension's options and the CKAN options it follows.

Defaults and types live in config_declaration.yaml (and CKAN's own declaration).
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

import ckan.plugins.toolkit as tk
from ckan.exceptions import CkanConfigurationException


def catalogue_file() -> str:
    return tk.config.get("ckanext.cookieconsent.catalogue") or ""


def cookie_name() -> str:
    return tk.config.get("ckanext.cookieconsent.cookie_name")


def cookie_max_age() -> int:
    return tk.config.get("ckanext.cookieconsent.cookie_max_age")


COOKIE_DOMAIN_OPTION = "ckanext.cookieconsent.cookie_domain"
_DOMAIN_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


def cookie_domain() -> str | None:
    """The preferences cookie's `Domain` (lowercase, without a leading dot), or None: the
    cookie is the host's only. `check_cookie_domain` has refused anything else at start-up."""
    value = (tk.config.get(COOKIE_DOMAIN_OPTION) or "").strip().lower().lstrip(".")
    return value or None


def check_cookie_domain() -> None:
    """Refuse a `cookie_domain` the browser would ignore or that would not reach CKAN: not
    a host name, an IP address, a single label (`org`, `localhost`: a top-level domain or
    one host), not `ckan.site_url`'s host or a parent of it, or with a `__Host-` cookie
    name (which forbids `Domain`). CkanConfigurationException naming the option."""
    domain = cookie_domain()
    if domain is None:
        return
    raw = tk.config.get(COOKIE_DOMAIN_OPTION)
    problem = _cookie_domain_problem(domain)
    if problem is not None:
        raise CkanConfigurationException(f"{COOKIE_DOMAIN_OPTION} = {raw}: {problem}")
    name = cookie_name()
    if name.lower().startswith("__host-"):
        raise CkanConfigurationException(
            f"{COOKIE_DOMAIN_OPTION} = {raw}: ckanext.cookieconsent.cookie_name = {name} "
            f"starts with __Host-, which browsers only accept without a Domain. Rename the "
            f"cookie or leave cookie_domain empty."
        )
    site_url = tk.config.get("ckan.site_url") or ""
    try:
        host = (urlsplit(site_url).hostname or "").lower()
    except ValueError:
        host = ""
    if host != domain and not host.endswith(f".{domain}"):
        raise CkanConfigurationException(
            f"{COOKIE_DOMAIN_OPTION} = {raw}: ckan.site_url = {site_url} is not on this "
            f"domain, so browsers would refuse the cookie. Expected {host or 'its host'} or "
            f"a parent domain of it."
        )


def _cookie_domain_problem(domain: str) -> str | None:
    """What is wrong with `domain` as a shared cookie's `Domain`, or None."""
    try:
        ipaddress.ip_address(domain.strip("[]"))
    except ValueError:
        pass
    else:
        return "an IP address cannot be shared with other sites; expected a domain name."
    labels = domain.split(".")
    if not all(_DOMAIN_LABEL.fullmatch(label) for label in labels):
        return (
            "expected a domain name such as .example.org (ASCII letters, digits and hyphens; "
            "an internationalised name in its xn-- form)."
        )
    if len(labels) < 2:
        return (
            "a single label is a top-level domain or one host, which browsers do not share; "
            "expected a domain such as .example.org."
        )
    return None


def honor_gpc() -> bool:
    return tk.config.get("ckanext.cookieconsent.honor_gpc")


def position() -> str:
    return tk.config.get("ckanext.cookieconsent.position")


def gate_googleanalytics() -> bool:
    return tk.config.get("ckanext.cookieconsent.gate_googleanalytics")


def googleanalytics_api_token_events() -> bool:
    return tk.config.get("ckanext.cookieconsent.googleanalytics_api_token_events")


def googleanalytics_category() -> str:
    return tk.config.get("ckanext.cookieconsent.googleanalytics_category")


CONSENT_MODE_SIGNALS = ("ad_storage", "ad_user_data", "ad_personalization", "analytics_storage")


def consent_mode() -> dict[str, str]:
    """Google Consent Mode's signals and the category each follows (the option's pairs).
    ValueError naming the option if a pair is malformed or a signal unknown."""
    option = "ckanext.cookieconsent.consent_mode"
    mapping: dict[str, str] = {}
    for pair in (tk.config.get(option) or "").split():
        signal, equals, category = pair.partition("=")
        if not equals or not category or signal not in CONSENT_MODE_SIGNALS:
            raise ValueError(
                f"{option}: {pair!r} is not signal=category with a signal among "
                f"{', '.join(CONSENT_MODE_SIGNALS)}"
            )
        mapping[signal] = category
    return mapping


# Matomo (matomo.py checks the values at start-up)


def matomo_url() -> str:
    return (tk.config.get("ckanext.cookieconsent.matomo_url") or "").strip()


def matomo_site_id() -> str:
    return str(tk.config.get("ckanext.cookieconsent.matomo_site_id") or "").strip()


def matomo_mode() -> str:
    return tk.config.get("ckanext.cookieconsent.matomo_mode")


def matomo_category() -> str:
    return tk.config.get("ckanext.cookieconsent.matomo_category")


def public_origin() -> str | None:
    """The portal's public origin from `ckan.site_url` (scheme, host and port as the
    browser sends them in `Origin`), or None if the option does not give one."""
    try:
        parts = urlsplit(tk.config.get("ckan.site_url") or "")
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    default_port = {"http": 80, "https": 443}[parts.scheme]
    suffix = f":{port}" if port is not None and port != default_port else ""
    return f"{parts.scheme}://{host}{suffix}"


def public_origin_is_https() -> bool:
    """Whether visitors reach the portal over https (the preferences cookie is then Secure)."""
    origin = public_origin()
    return origin is not None and origin.startswith("https://")


def text_override(name: str, lang: str) -> str | None:
    """A text the portal set for one language, e.g. ckanext.cookieconsent.intro.fr."""
    # A dynamic option: CKAN's declaration cannot list every language, so say "None"
    # explicitly rather than have CKAN warn that the key is undeclared.
    return tk.config.get(f"ckanext.cookieconsent.{name}.{lang}", None) or None


def detect_undeclared() -> bool:
    return tk.config.get("ckanext.cookieconsent.detect_undeclared")


def records_enabled() -> bool:
    return tk.config.get("ckanext.cookieconsent.records")


def retention_days() -> int:
    return tk.config.get("ckanext.cookieconsent.retention_days")


def record_timeout_ms() -> int:
    return tk.config.get("ckanext.cookieconsent.record_timeout_ms")


def min_retention_days() -> int:
    """The fewest whole days a record must be kept: as long as the choice it proves."""
    return -(-cookie_max_age() // 86400)


def check_retention() -> None:
    """Refuse a retention period shorter than a choice's life: purge would delete the
    proof of choices still in force (GDPR art. 7(1): consent must be provable while it
    is relied on). CkanConfigurationException naming both options and the fix."""
    days, max_age = retention_days(), cookie_max_age()
    if days * 86400 < max_age:
        raise CkanConfigurationException(
            f"ckanext.cookieconsent.retention_days = {days} would delete consent records "
            f"while the choices they prove are still in force: "
            f"ckanext.cookieconsent.cookie_max_age = {max_age} keeps a choice "
            f"{max_age} seconds ({min_retention_days()} days). Set retention_days to at "
            f"least {min_retention_days()}, or lower cookie_max_age."
        )


def builtin_catalogue_values() -> dict[str, str]:
    """What the built-in catalogue's placeholders stand for on this portal."""
    session_permanent = tk.config.get("SESSION_PERMANENT")
    session_lifetime = tk.config.get("PERMANENT_SESSION_LIFETIME")
    return {
        "session_cookie": tk.config.get("SESSION_COOKIE_NAME"),
        "session_duration": str(session_lifetime) if session_permanent else "session",
        "remember_cookie": tk.config.get("REMEMBER_COOKIE_NAME"),
        "preferences_cookie": cookie_name(),
        "preferences_max_age": str(cookie_max_age()),
    }


def resource_view_category() -> str:
    return tk.config.get("ckanext.cookieconsent.resource_view_category")


def resource_view_trusted_hosts() -> str:
    return tk.config.get("ckanext.cookieconsent.resource_view_trusted_hosts") or ""

"""The plugin class: which CKAN interfaces the extension implements, nothing else."""

from __future__ import annotations

from typing import Any

import ckan.plugins as p
import ckan.plugins.toolkit as tk
from ckan.common import CKANConfig
from ckan.lib.plugins import DefaultTranslation

from ckanext.cookieconsent import (
    catalogue,
    config,
    drift,
    googleanalytics,
    matomo,
    proof,
    records,
    rendering,
    tracking,
    views_gate,
)

try:  # ckanext-googleanalytics is optional: its hook for server-side events
    from ckanext.googleanalytics.interfaces import IGoogleAnalytics  # pyright: ignore[reportMissingImports]
except ImportError:
    IGoogleAnalytics = None


@tk.blanket.config_declarations
@tk.blanket.helpers
@tk.blanket.actions
@tk.blanket.auth_functions
@tk.blanket.blueprints
@tk.blanket.cli
class CookieConsentPlugin(p.SingletonPlugin, DefaultTranslation):
    p.implements(p.IConfigurer)
    p.implements(p.IConfigurable)
    p.implements(p.ITranslation)
    p.implements(p.IMiddleware, inherit=True)
    if IGoogleAnalytics is not None:
        p.implements(IGoogleAnalytics, inherit=True)

    # IConfigurer

    def update_config(self, config_: CKANConfig) -> None:
        tk.add_template_directory(config_, "templates")
        tk.add_public_directory(config_, "public")
        tk.add_resource("assets", "cookieconsent")

    # IConfigurable: the catalogue is read and validated once, here; a broken
    # catalogue stops start-up with a CatalogueError that says what to fix.
    # CKAN calls this after computing the template search path: with
    # ckanext-googleanalytics enabled, our templates are placed before its own.

    def configure(self, config_: CKANConfig) -> None:
        config.check_retention()  # records outlive the choices they prove, or no start
        config.check_cookie_domain()  # a Domain the browsers accept, CKAN's host in it
        # The integrations' entries the portal's catalogue lacks, each given it as declared.
        integrations = [
            hook
            for hook, on in (
                (googleanalytics.cookies_to_declare, googleanalytics.gated()),
                (tracking.entries_to_declare, tracking.loaded()),
                (matomo.cookies_to_declare, matomo.configured()),
            )
            if on
        ]
        catalogue.install(
            catalogue.load(
                config.catalogue_file(),
                config.builtin_catalogue_values(),
                lambda declared: [entry for hook in integrations for entry in hook(declared)],
            )
        )
        if googleanalytics.loaded():
            googleanalytics.put_our_templates_first(config_)
        views_gate.check(catalogue.current())  # CKAN's resource views of other sites
        rendering.forget()  # rendered with the templates and texts of before
        proof.forget()  # the texts shown, likewise
        records.forget_revisions()  # perhaps of another database
        drift.forget()

    # IMiddleware: the names of the cookies responses set and requests send, against the
    # catalogue (drift.py).

    def make_middleware(self, app: Any, config_: CKANConfig) -> Any:
        return drift.middleware(app) if config.detect_undeclared() else app

    # Run for every plugin after all their make_middleware: CKAN's tracking plugin has
    # registered its handler by then, in any plugin order (tracking.py).

    def make_error_log_middleware(self, app: Any, config_: CKANConfig) -> Any:
        tracking.check_consent_before_storing(app)
        return app

    # ITranslation: DefaultTranslation finds i18n/ next to this package and
    # uses the "ckanext-cookieconsent" domain.

    # IGoogleAnalytics: its server-side events (API calls, downloads) follow the visitor's
    # choice like its browser tag.

    def googleanalytics_skip_event(self, data: object) -> bool:
        return googleanalytics.skip_server_event()

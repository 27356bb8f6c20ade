"""Signals other extensions can subscribe to (through CKAN's ISignal)."""

from __future__ import annotations

import ckan.plugins.toolkit as tk

# Sent each time a visitor makes or changes their choice, with the consent id as
# sender and keyword arguments `choice` (consent.Choice), `action` (accept_all,
# refuse_all or save) and `language`.
choice_made = tk.signals.ckanext.signal("cookieconsent:choice_made")

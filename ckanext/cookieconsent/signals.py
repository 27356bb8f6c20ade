"""Signals other extensions can subscribe to (through CKAN's ISignal)."""

from __future__ import annotations

import ckan.plugins.toolkit as tk

# Sent each time a visitor's choice is stored (made, changed, withdrawn, or the refusal
# implied by Global Privacy Control remembered), with the consent id as sender and keyword
# arguments:
#   choice    consent.Choice, the choice stored
#   method    consent.Method, how it came about: banner, policy, embed, withdrawal or gpc
#   action    what was answered: accept_all, refuse_all, save or allow (one more category,
#             an embed's "Always allow"); refuse_all for Global Privacy Control
#   language  the page's language
choice_made = tk.signals.ckanext.signal("cookieconsent:choice_made")

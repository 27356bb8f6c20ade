/*
 * ckanext-cookieconsent: the preferences dialog. Where a page has no choice of its own in
 * view, the footer's "Cookies" link (or ckanCookieConsent.openPreferences()) shows the
 * policy page's choice (the same form, in the page's language) in a modal dialog; closing
 * it (Esc, "Close", or a choice) gives the focus back to what opened it. Loaded by
 * cookieconsent.js the first time it is needed, with forms.js and policy.js (the summary).
 */
(window.ckanCookieConsentParts = window.ckanCookieConsentParts || []).push(["dialog", function (core) {
  "use strict";

  var dialog = null;
  var fetching = false;

  function show() {
    core.parts.forms.syncSwitches();
    dialog.showModal();
    core.parts.forms.focusFirstSwitch(dialog);
  }

  function build(html) {
    var fetched = new DOMParser().parseFromString(html, "text/html");
    var choice = fetched.getElementById("cookieconsent-choice");
    var form = choice && choice.querySelector("[data-cookieconsent-form]");
    if (!form || !window.HTMLDialogElement) {
      throw new Error("no choice to show");
    }
    var cameFrom = form.querySelector("input[name='came_from']");
    if (cameFrom) {
      cameFrom.value = location.pathname + location.search;
    }
    dialog = document.createElement("dialog");
    dialog.className = "cookieconsent-dialog";
    dialog.setAttribute("aria-labelledby", "cookieconsent-choice-title");
    var close = document.createElement("button");
    close.type = "button";
    close.className = "cookieconsent-button cookieconsent-dialog__close";
    close.textContent = choice.getAttribute("data-close-label") || "×";
    close.addEventListener("click", function () { dialog.close(); });
    dialog.appendChild(close);
    dialog.appendChild(document.importNode(choice, true));
    dialog.addEventListener("close", function () {
      var opener = core.opener;
      if (opener && document.contains(opener)) {
        opener.focus({preventScroll: true});
      }
    });
    document.body.appendChild(dialog);
    core.parts.forms.enhanceForm(dialog.querySelector("[data-cookieconsent-form]"));
  }

  function open() {
    if (dialog) {
      show();
      return;
    }
    if (fetching) {
      return;
    }
    fetching = true;
    fetch(core.settings.policyUrl, {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.text();
      }).then(function (html) {
        build(html);
        show();
      }).catch(function () {
        core.toPolicy("#cookieconsent-choice");
      }).then(function () {
        fetching = false;
      });
  }

  return {
    open: open,
    handles: function (form) {
      if (dialog && dialog.contains(form)) {
        dialog.close();  // the focus goes back to the link that opened it
        return true;
      }
      return false;
    }
  };
}]);

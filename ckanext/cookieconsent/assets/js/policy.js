/*
 * ckanext-cookieconsent: the policy page's summary of the choice, which follows a choice
 * made in the page (on the policy page, and in the preferences dialog, which shows the
 * same section); and on the policy page, the preferences opened from anywhere (the
 * footer's "Cookies" link) are its own choice. A part of cookieconsent.js (see there),
 * after forms.js.
 */
(window.ckanCookieConsentParts = window.ckanCookieConsentParts || []).push(["policy", function (core) {
  "use strict";

  var settings = core.settings;

  // As the server writes it (Babel's "long" date and time, CKAN's display time zone), in
  // the page's language. CKAN writes <html lang> as a BCP 47 tag ("pt-BR"); a theme that
  // overrides its `htmltag` block may write CKAN's own "pt_BR": Intl would refuse it.
  function formatDate(seconds) {
    var moment = new Date(seconds * 1000);
    var lang = (document.documentElement.lang || "").replace(/_/g, "-") || undefined;
    var options = {
      dateStyle: "long", timeStyle: "long", timeZone: settings.timeZone || "UTC",
      numberingSystem: "latn"  // Babel's digits, in Arabic and Persian too
    };
    try {
      return new Intl.DateTimeFormat(lang, options).format(moment);
    } catch (error) {  // a tag or a time zone this browser does not know
      try {
        return new Intl.DateTimeFormat(lang, {dateStyle: "long", timeStyle: "long",
                                              numberingSystem: "latn"}).format(moment);
      } catch (ignored) {
        return moment.toUTCString();
      }
    }
  }

  // The summary and the refusal button; their wording comes from the server, in the
  // page's language (data- attributes).
  function describeChoice(serverChoice) {
    var allowsOptional = Object.keys(serverChoice.categories).some(function (id) {
      return serverChoice.categories[id] && !core.isRequired(id);
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-cookieconsent-summary]"),
      function (summary) {
        var made = summary.getAttribute("data-made") || "";
        var consentId = summary.getAttribute("data-consent-id") || "";
        summary.textContent = made.replace("{date}", formatDate(serverChoice.made_at)) + " " +
          consentId.replace("{consent_id}", serverChoice.consent_id);
      });
    // "Withdraw my consent" only while something optional is allowed.
    Array.prototype.forEach.call(document.querySelectorAll("[data-label-withdraw]"),
      function (button) {
        button.textContent = button.getAttribute(
          allowsOptional ? "data-label-withdraw" : "data-label-reject");
      });
  }

  return {
    chosen: describeChoice,
    opens: function () {
      var own = document.getElementById("cookieconsent-choice");
      if (!own || own.closest("dialog")) {
        return false;
      }
      own.scrollIntoView();
      core.parts.forms.focusFirstSwitch(own);
      return true;
    }
  };
}]);

/*
 * ckanext-cookieconsent: embeds (the gate.embed macro), on the pages that have one.
 * A part of cookieconsent.js (see there).
 *
 * An embed waits behind a placeholder holding the real content in a <template>; it is
 * put in place the moment its category is allowed, or once ("Allow this once").
 */
(window.ckanCookieConsentParts = window.ckanCookieConsentParts || []).push(["embed", function (core) {
  "use strict";

  var EMBED = "[data-cookieconsent-embed]";

  function activate(placeholder, focus) {
    var template = placeholder.querySelector("template");
    if (!template) {
      return;
    }
    var content = template.content.cloneNode(true);
    var frame = content.querySelector("iframe, video, audio");
    placeholder.parentNode.replaceChild(content, placeholder);
    if (focus && frame) {
      frame.focus();
    }
  }

  // "Allow this once" loads one embed, of a category visitors are asked about (one the
  // catalogue lists cookies for); "Always allow" is a consent form of its own.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-cookieconsent-allow-once]");
    var placeholder = button && button.closest(EMBED);
    if (placeholder &&
        core.settings.categories.indexOf(placeholder.getAttribute("data-cookieconsent-embed")) !== -1) {
      activate(placeholder, true);
    }
  });
  Array.prototype.forEach.call(document.querySelectorAll("[data-cookieconsent-allow-once]"),
    function (button) { button.hidden = false; });

  return {
    // The placeholder whose form the visitor used gives the focus to its content.
    apply: function (form) {
      var focused = form && form.closest(EMBED);
      Array.prototype.forEach.call(document.querySelectorAll(EMBED), function (placeholder) {
        if (core.allowed(placeholder.getAttribute("data-cookieconsent-embed"))) {
          activate(placeholder, placeholder === focused);
        }
      });
    },
    handles: function (form) {
      return Boolean(form.closest(EMBED));
    }
  };
}]);

/*
 * ckanext-cookieconsent: gated scripts (the gate.script macro, cookieconsent_gate_scripts:
 * ckanext-googleanalytics' tag), on the pages that have one waiting. A part of
 * cookieconsent.js (see there).
 */
(window.ckanCookieConsentParts = window.ckanCookieConsentParts || []).push(["gate", function (core) {
  "use strict";

  // Gated scripts are rendered inert (type="text/plain"); an allowed one is replaced by a
  // live copy with the same attributes, once. They start in document order, and each
  // external script without `async` is waited for before the next one starts, as if the
  // server had rendered them live (a library, then the code that calls it).
  var INTERNAL = ["type", "data-cookieconsent-src", "data-cookieconsent-type",
    "data-cookieconsent-starting"];

  function startInOrder(queue) {
    var original = queue.shift();
    if (!original) {
      return;
    }
    var live = document.createElement("script");
    Array.prototype.forEach.call(original.attributes, function (attribute) {
      if (INTERNAL.indexOf(attribute.name) === -1) {
        live.setAttribute(attribute.name, attribute.value);
      }
    });
    var type = original.getAttribute("data-cookieconsent-type");
    if (type) {
      live.type = type;
    }
    live.nonce = original.nonce;
    var source = original.getAttribute("data-cookieconsent-src");
    if (source) {
      live.src = source;
    } else {
      live.text = original.text;
    }
    live.setAttribute("data-cookieconsent-activated", "");
    var next = function () { startInOrder(queue); };
    var waits = Boolean(source) && !original.hasAttribute("async");
    if (waits) {
      live.async = false;
      live.onload = live.onerror = next;
    }
    original.parentNode.replaceChild(live, original);
    if (!waits) {
      next();
    }
  }

  function activateScripts() {
    var queue = [];
    var inert = document.querySelectorAll(
      "script[type='text/plain'][data-cookieconsent-category]:not([data-cookieconsent-starting])");
    Array.prototype.forEach.call(inert, function (original) {
      if (core.allowed(original.getAttribute("data-cookieconsent-category"))) {
        original.setAttribute("data-cookieconsent-starting", "");
        queue.push(original);
      }
    });
    startInOrder(queue);
  }

  return {apply: activateScripts};
}]);

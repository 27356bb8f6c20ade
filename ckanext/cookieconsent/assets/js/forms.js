/*
 * ckanext-cookieconsent: the banner and the consent forms (banner, policy page, embeds,
 * dialog), on the pages that have one: a choice applies without a reload. A part of
 * cookieconsent.js (see there), which loads it with the banner on the visitor's first sign
 * of intent: until then the forms work as they do without JavaScript.
 */
(window.ckanCookieConsentParts = window.ckanCookieConsentParts || []).push(["forms", function (core) {
  "use strict";

  var doc = document;
  var banner = doc.querySelector("[data-cookieconsent-banner]");

  function hideBanner() {
    if (banner) {
      banner.hidden = true;
    }
  }

  function closeBanner() {
    hideBanner();
    var content = doc.getElementById("content");
    if (content) {
      // Back to where the visitor was going, the page itself (the skip link's target),
      // without moving it: the masthead stays in view.
      if (!content.hasAttribute("tabindex")) {
        content.setAttribute("tabindex", "-1");
      }
      content.focus({preventScroll: true});
    }
  }

  // The bottom banner lies over the page, which keeps room for it at its end (CSS): as
  // much as the banner really takes, measured here and whenever it changes size.
  function reserveRoomForBanner() {
    var style = doc.documentElement.style;
    var measure = function () {
      var height = banner.hidden ? 0 : banner.getBoundingClientRect().height;
      if (height) {
        style.setProperty("--cookieconsent-banner-height", Math.ceil(height) + "px");
      } else {
        style.removeProperty("--cookieconsent-banner-height");
      }
    };
    measure();
    if (window.ResizeObserver) {
      new ResizeObserver(measure).observe(banner);
    }
  }

  function isBottom() {
    return banner.classList.contains("cookieconsent-banner--bottom");
  }

  // The switches follow the choice (also one the browser restored from its history).
  function syncSwitches() {
    each("input[data-cookieconsent-category]", function (input) {
      if (!input.disabled) {
        input.checked = core.allowed(input.getAttribute("data-cookieconsent-category"));
      }
    });
  }

  function focusFirstSwitch(container) {
    (container.querySelector("input:not([disabled]):not([type='hidden'])") || container).focus();
  }

  function panelOf(toggle) {
    return doc.getElementById(toggle.getAttribute("aria-controls"));
  }

  // Open: .is-open; closed: not displayed, which also closes what "Customise" opened
  // through :target before this script arrived (the page's target stays until the next
  // jump). A style the script sets: a strict CSP allows it.
  function setPreferencesOpen(toggle, open, focus) {
    var panel = panelOf(toggle);
    panel.classList.toggle("is-open", open);
    panel.style.display = open ? "" : "none";
    toggle.setAttribute("aria-expanded", String(open));
    if (open && focus) {
      focusFirstSwitch(panel);
    }
  }

  // Already open if "Customise" was followed before this script arrived (:target): then
  // as if it had been pressed now, unless the visitor has moved on.
  function enhanceCustomise(toggle) {
    var panel = panelOf(toggle);
    var active = doc.activeElement;
    toggle.setAttribute("role", "button");
    if (panel.matches(":target")) {
      setPreferencesOpen(toggle, true, active === toggle || active === panel);
    } else {
      toggle.setAttribute("aria-expanded", "false");
    }
    toggle.addEventListener("click", function (event) {
      event.preventDefault();
      setPreferencesOpen(toggle, toggle.getAttribute("aria-expanded") !== "true", true);
    });
    toggle.addEventListener("keydown", function (event) {
      if (event.key === " ") {
        event.preventDefault();
        toggle.click();
      }
    });
  }

  function csrfToken(form) {
    var meta = doc.querySelector("meta[name='_csrf_token']");
    var field = form.querySelector("input[name='_csrf_token']");
    return (field && field.value) || (meta && meta.content) || "";
  }

  // After the choice is applied: the banner closes; an embed's or the dialog's form is
  // its part's business; elsewhere (the policy page) the form says it is saved.
  function chosen(serverChoice, form) {
    if (banner && banner.contains(form)) {
      closeBanner();
      return;
    }
    hideBanner();
    if (core.call("handles", form)) {
      return;
    }
    var status = form.querySelector("[data-cookieconsent-status]");
    if (status) {
      // The message is next to the button pressed: no jump, unless it is out of view.
      status.textContent = status.getAttribute("data-saved");
      status.focus({preventScroll: true});
      status.scrollIntoView({block: "nearest"});
    }
  }

  function enhanceForm(form) {
    form.addEventListener("submit", function (event) {
      var submitter = event.submitter;
      if (!submitter || !window.fetch) {
        return; // the plain form POST still works
      }
      event.preventDefault();
      var data = new FormData(form);
      data.set(submitter.name, submitter.value);
      fetch(form.getAttribute("action"), {  // form.action is the buttons named "action"
        method: "POST",
        body: data,
        credentials: "same-origin",
        headers: {"Accept": "application/json", "X-CSRFToken": csrfToken(form)}
      }).then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      }).then(function (answer) {
        core.confirm(answer.choice, form);
      }).catch(function () {
        // The server refused or could not be reached: let the browser post the form, so
        // the visitor sees the server's answer instead of nothing. submit() does not send
        // the clicked button, so its name and value travel in a hidden field.
        var pressed = doc.createElement("input");
        pressed.type = "hidden";
        pressed.name = submitter.name;
        pressed.value = submitter.value;
        form.appendChild(pressed);
        HTMLFormElement.prototype.submit.call(form);
      });
    });
  }

  function each(selector, callback) {
    Array.prototype.forEach.call(doc.querySelectorAll(selector), callback);
  }

  each("[data-cookieconsent-customise]", enhanceCustomise);
  each("[data-cookieconsent-form]", enhanceForm);
  if (banner && isBottom()) {
    reserveRoomForBanner();
  }

  return {
    enhanceForm: enhanceForm,
    focusFirstSwitch: focusFirstSwitch,
    syncSwitches: syncSwitches,
    apply: syncSwitches,
    chosen: chosen,
    // The preferences: the banner's, where the visitor sees it (fixed at the bottom, or
    // at the top in view).
    opens: function () {
      var toggle = banner && banner.querySelector("[data-cookieconsent-customise]");
      if (!toggle || banner.hidden) {
        return false;
      }
      var box = banner.getBoundingClientRect();
      if (!isBottom() && !(box.bottom > 0 && box.top < innerHeight)) {
        return false;
      }
      setPreferencesOpen(toggle, true, true);
      return true;
    }
  };
}]);

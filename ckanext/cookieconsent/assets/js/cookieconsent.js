/*
 * ckanext-cookieconsent in the browser.
 *
 * The server renders everything (banner, forms, gated scripts) so that the portal works
 * without JavaScript. This script enhances it: choices apply without a reload, gated
 * scripts and embeds start the moment their category is allowed, refused cookies are
 * deleted, and other code gets an API:
 *
 *   window.ckanCookieConsent.allowed("statistics")   -> true / false
 *   window.ckanCookieConsent.choice()                -> {revision, source, categories, ...}
 *   window.ckanCookieConsent.openPreferences()       (what the footer's "Cookies" link does)
 *   document.addEventListener("cookieconsent:change", function (e) { e.detail.choice })
 *
 * The choice is the one the server validated for this page (it alone can check the
 * cookie's signature), followed by the cookie while it keeps that value: a cookie changed
 * behind the page's back (planted by a sibling site, or another tab) counts as no choice.
 */
(function () {
  "use strict";

  var settingsElement = document.getElementById("cookieconsent-settings");
  if (!settingsElement) {
    return;
  }
  var settings = JSON.parse(settingsElement.textContent);

  // --- The choice -----------------------------------------------------------------

  function readCookie(name) {
    var prefix = name + "=";
    var parts = document.cookie ? document.cookie.split("; ") : [];
    for (var i = 0; i < parts.length; i++) {
      if (parts[i].indexOf(prefix) === 0) {
        return parts[i].slice(prefix.length);
      }
    }
    return null;
  }

  // Only the server can tell a valid choice (it checks the signature, the age, the
  // revision and the categories): it renders the value it accepted, if any, in the
  // settings. The cookie counts as a choice while it still holds that value, or the one
  // a choice made in this page returned; anything else (forged, expired, planted by a
  // sibling site, changed in another tab) is no choice, and the banner stays.
  var confirmed = settings.stored;  // {value, granted, madeAt, consentId} or null

  function storedChoice() {
    if (!confirmed || readCookie(settings.cookieName) !== confirmed.value) {
      return null;
    }
    return {
      source: "cookie",
      madeAt: confirmed.madeAt,
      consentId: confirmed.consentId,
      granted: confirmed.granted.slice()
    };
  }

  // After a choice made in this page: the server's answer, and the cookie it set.
  function confirm(serverChoice) {
    var granted = Object.keys(serverChoice.categories).filter(function (id) {
      return serverChoice.categories[id] && settings.required.indexOf(id) === -1;
    });
    confirmed = {
      value: readCookie(settings.cookieName),
      granted: granted,
      madeAt: serverChoice.made_at,
      consentId: serverChoice.consent_id
    };
  }

  function gpcSignal() {
    return settings.honorGpc && navigator.globalPrivacyControl === true;
  }

  function currentChoice() {
    var stored = storedChoice();
    if (stored) {
      return stored;
    }
    var gpc = gpcSignal();
    return {
      source: gpc ? "gpc" : "none",
      madeAt: null,
      consentId: null,
      granted: gpc ? [] : settings.exempt.slice()
    };
  }

  function allowed(category) {
    return settings.required.indexOf(category) !== -1 ||
      currentChoice().granted.indexOf(category) !== -1;
  }

  function choice() {
    var current = currentChoice();
    var categories = {};
    settings.categories.forEach(function (id) {
      categories[id] = allowed(id);
    });
    return {
      revision: settings.revision,
      source: current.source,
      made_at: current.madeAt,
      consent_id: current.consentId,
      categories: categories
    };
  }

  // --- Applying a choice ----------------------------------------------------------------

  function patternToRegExp(pattern) {
    var escaped = pattern.split("*").map(function (part) {
      return part.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
    });
    return new RegExp("^" + escaped.join(".*") + "$");
  }

  // A cookie can only be deleted with the domain and path it was set with, which the
  // browser does not tell: try the host, each parent domain and the catalogue's path.
  function deleteCookie(name, entry) {
    var labels = location.hostname.split(".");
    var domains = [""];
    for (var i = 0; i < labels.length - 1; i++) {
      domains.push("; domain=." + labels.slice(i).join("."));
    }
    if (entry.domain) {
      domains.push("; domain=" + entry.domain);
    }
    var paths = ["/"];
    if (entry.path && entry.path !== "/") {
      paths.push(entry.path);
    }
    domains.forEach(function (domain) {
      paths.forEach(function (path) {
        document.cookie = name + "=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=" + path + domain;
      });
    });
  }

  function deleteRefusedCookies() {
    var names = document.cookie ? document.cookie.split("; ").map(function (pair) {
      return pair.split("=")[0];
    }) : [];
    settings.cookies.forEach(function (entry) {
      if (allowed(entry.category)) {
        return;
      }
      var matcher = patternToRegExp(entry.name);
      names.forEach(function (name) {
        if (matcher.test(name)) {
          deleteCookie(name, entry);
        }
      });
    });
  }

  // Gated scripts are rendered inert (type="text/plain"); an allowed one is replaced by a
  // live copy with the same attributes, once. They start in document order, and each
  // external script without `async` is waited for before the next one starts, as if the
  // server had rendered them live (a library, then the code that calls it).
  var INTERNAL = ["type", "data-cookieconsent-src", "data-cookieconsent-type",
    "data-cookieconsent-starting"];

  function liveCopy(original) {
    var live = document.createElement("script");
    Array.prototype.forEach.call(original.attributes, function (attribute) {
      if (INTERNAL.indexOf(attribute.name) === -1) {
        live.setAttribute(attribute.name, attribute.value);
      }
    });
    var type = original.getAttribute("data-cookieconsent-type");
    if (type) {
      live.setAttribute("type", type);
    }
    if (original.nonce) {
      live.nonce = original.nonce;
    }
    var source = original.getAttribute("data-cookieconsent-src");
    if (source) {
      live.src = source;
    } else {
      live.text = original.text;
    }
    live.setAttribute("data-cookieconsent-activated", "");
    return live;
  }

  function startInOrder(queue) {
    var original = queue.shift();
    if (!original) {
      return;
    }
    var live = liveCopy(original);
    var next = function () { startInOrder(queue); };
    var waits = Boolean(live.src) && !original.hasAttribute("async");
    if (waits) {
      live.async = false;
      live.addEventListener("load", next);
      live.addEventListener("error", next);
    }
    original.parentNode.replaceChild(live, original);
    if (!waits) {
      next();
    }
  }

  function activateScripts() {
    var inert = document.querySelectorAll(
      "script[type='text/plain'][data-cookieconsent-category]:not([data-cookieconsent-starting])");
    var queue = Array.prototype.filter.call(inert, function (original) {
      return allowed(original.getAttribute("data-cookieconsent-category"));
    });
    queue.forEach(function (original) {
      original.setAttribute("data-cookieconsent-starting", "");
    });
    startInOrder(queue);
  }

  // Embeds wait behind a placeholder holding the real content in a <template>.
  function activateEmbed(placeholder, focus) {
    var template = placeholder.querySelector("template");
    if (!template) {
      return;
    }
    var content = template.content.cloneNode(true);
    var frame = content.querySelector("iframe");
    placeholder.parentNode.replaceChild(content, placeholder);
    if (focus && frame) {
      frame.focus();
    }
  }

  // `focused`: the placeholder the visitor acted on, whose content then takes the focus.
  function activateEmbeds(focused) {
    var placeholders = document.querySelectorAll("[data-cookieconsent-embed]");
    Array.prototype.forEach.call(placeholders, function (placeholder) {
      if (allowed(placeholder.getAttribute("data-cookieconsent-embed"))) {
        activateEmbed(placeholder, placeholder === focused);
      }
    });
  }

  function syncSwitches() {
    var switches = document.querySelectorAll("input[data-cookieconsent-category]");
    Array.prototype.forEach.call(switches, function (input) {
      if (!input.disabled) {
        input.checked = allowed(input.getAttribute("data-cookieconsent-category"));
      }
    });
  }

  // The policy page's summary and its refusal button follow a choice made in the page.
  // Their wording comes from the server, in the page's language (data- attributes).
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

  function describeChoice(serverChoice) {
    var allowsOptional = Object.keys(serverChoice.categories).some(function (id) {
      return serverChoice.categories[id] && settings.required.indexOf(id) === -1;
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

  function apply(isChange, focusedEmbed) {
    deleteRefusedCookies();
    activateScripts();
    activateEmbeds(focusedEmbed);
    syncSwitches();
    if (isChange) {
      document.dispatchEvent(new CustomEvent("cookieconsent:change", {
        detail: { choice: choice() }
      }));
    }
  }

  // --- The banner and the forms ---------------------------------------------------------

  var banner = document.querySelector("[data-cookieconsent-banner]");

  function closeBanner() {
    if (banner) {
      banner.hidden = true;
    }
    var content = document.getElementById("content");
    if (content) {
      // Back to where the visitor was going, the page itself (the skip link's target),
      // without moving it: the masthead stays in view.
      if (!content.hasAttribute("tabindex")) {
        content.setAttribute("tabindex", "-1");
      }
      content.focus({ preventScroll: true });
    }
  }

  // The bottom banner lies over the page, which keeps room for it at its end (CSS): as
  // much as the banner really takes, measured here and whenever it changes size.
  function reserveRoomForBanner() {
    if (!banner || !banner.classList.contains("cookieconsent-banner--bottom")) {
      return;
    }
    var root = document.documentElement;
    var measure = function () {
      var height = banner.hidden ? 0 : banner.getBoundingClientRect().height;
      if (height) {
        root.style.setProperty("--cookieconsent-banner-height", Math.ceil(height) + "px");
      } else {
        root.style.removeProperty("--cookieconsent-banner-height");
      }
    };
    measure();
    if (window.ResizeObserver) {
      new ResizeObserver(measure).observe(banner);
    }
  }

  function setPreferencesOpen(toggle, open) {
    var panel = document.getElementById(toggle.getAttribute("aria-controls"));
    panel.classList.toggle("is-open", open);
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) {
      var first = panel.querySelector("input:not([disabled])") || panel;
      first.focus();
    }
  }

  function enhanceCustomise(toggle) {
    toggle.setAttribute("role", "button");
    toggle.setAttribute("aria-expanded", "false");
    toggle.addEventListener("click", function (event) {
      event.preventDefault();
      setPreferencesOpen(toggle, toggle.getAttribute("aria-expanded") !== "true");
    });
    toggle.addEventListener("keydown", function (event) {
      if (event.key === " ") {
        event.preventDefault();
        toggle.click();
      }
    });
  }

  function csrfToken(form) {
    var meta = document.querySelector("meta[name='_csrf_token']");
    var field = form.querySelector("input[name='_csrf_token']");
    return (field && field.value) || (meta && meta.content) || "";
  }

  function showStatus(form, saved) {
    var status = form.querySelector("[data-cookieconsent-status]");
    if (status) {
      status.textContent = saved ? status.getAttribute("data-saved") : "";
    }
    return status;
  }

  function enhanceForm(form) {
    form.addEventListener("submit", function (event) {
      var submitter = event.submitter;
      if (!submitter || !window.fetch || !window.FormData) {
        return; // the plain form POST still works
      }
      event.preventDefault();
      var data = new FormData(form);
      data.set(submitter.name, submitter.value);
      fetch(form.getAttribute("action"), {  // form.action is the buttons named "action"
        method: "POST",
        body: data,
        credentials: "same-origin",
        headers: { "Accept": "application/json", "X-CSRFToken": csrfToken(form) }
      }).then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      }).then(function (answer) {
        confirm(answer.choice);
        var embed = form.closest("[data-cookieconsent-embed]");
        var inBanner = banner && banner.contains(form);
        var inDialog = dialog && dialog.contains(form);
        apply(true, embed);
        describeChoice(answer.choice);
        if (inBanner) {
          closeBanner();
        } else if (embed) {
          if (banner) {
            banner.hidden = true;
          }
        } else if (inDialog) {
          if (banner) {
            banner.hidden = true;
          }
          dialog.close();  // the focus goes back to the link that opened it
        } else {
          if (banner) {
            banner.hidden = true;
          }
          var status = showStatus(form, true);
          if (status) {
            // The message is next to the button pressed: no jump, unless it is out of view.
            status.focus({ preventScroll: true });
            status.scrollIntoView({ block: "nearest" });
          }
        }
      }).catch(function () {
        // The server refused or could not be reached: let the browser post the form, so
        // the visitor sees the server's answer instead of nothing. submit() does not send
        // the clicked button, so its name and value travel in a hidden field.
        var pressed = document.createElement("input");
        pressed.type = "hidden";
        pressed.name = submitter.name;
        pressed.value = submitter.value;
        form.appendChild(pressed);
        HTMLFormElement.prototype.submit.call(form);
      });
    });
  }

  // --- The preferences, opened from anywhere (the footer's "Cookies" link) -------------

  function offersChoice() {
    return settings.categories.some(function (id) {
      return settings.required.indexOf(id) === -1;
    });
  }

  function focusFirstSwitch(container) {
    var first = container.querySelector("input:not([disabled]):not([type='hidden'])");
    (first || container).focus();
  }

  // Where the page has no choice of its own in view, the policy page's choice (the same
  // form, in the page's language) opens in a modal dialog; closing it (Esc, "Close", or a
  // choice) gives the focus back to what opened it.
  var dialog = null;
  var dialogOpener = null;

  function showDialog() {
    syncSwitches();
    dialog.showModal();
    focusFirstSwitch(dialog);
  }

  function buildDialog(html) {
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
      if (dialogOpener && document.contains(dialogOpener)) {
        dialogOpener.focus({ preventScroll: true });
      }
    });
    document.body.appendChild(dialog);
    enhanceForm(dialog.querySelector("[data-cookieconsent-form]"));
  }

  function openDialog() {
    if (dialog) {
      showDialog();
      return;
    }
    fetch(settings.policyUrl, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.text();
      }).then(function (html) {
        buildDialog(html);
        showDialog();
      }).catch(function () {
        location.href = settings.policyUrl + "#cookieconsent-choice";
      });
  }

  function inView(element) {
    var box = element.getBoundingClientRect();
    return box.bottom > 0 && box.top < window.innerHeight;
  }

  function openPreferences(opener) {
    dialogOpener = opener || document.activeElement;
    var toggle = banner && banner.querySelector("[data-cookieconsent-customise]");
    // The banner, where the visitor sees it: fixed at the bottom, or at the top in view.
    if (toggle && !banner.hidden &&
        (banner.classList.contains("cookieconsent-banner--bottom") || inView(banner))) {
      setPreferencesOpen(toggle, true);
      return;
    }
    var policyForm = document.getElementById("cookieconsent-choice");
    if (policyForm && !(dialog && dialog.contains(policyForm))) {
      policyForm.scrollIntoView();
      focusFirstSwitch(policyForm);
      return;
    }
    if (!offersChoice()) {
      location.href = settings.policyUrl;
      return;
    }
    openDialog();
  }

  window.ckanCookieConsent = {
    allowed: allowed,
    choice: choice,
    openPreferences: function () { openPreferences(null); }
  };

  Array.prototype.forEach.call(document.querySelectorAll("[data-cookieconsent-customise]"), enhanceCustomise);
  Array.prototype.forEach.call(document.querySelectorAll("[data-cookieconsent-form]"), enhanceForm);
  // "Allow this once" loads one embed, of a category visitors are asked about (one the
  // catalogue lists cookies for); "Always allow" is a consent form of its own.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-cookieconsent-allow-once]");
    var placeholder = button && button.closest("[data-cookieconsent-embed]");
    if (placeholder &&
        settings.categories.indexOf(placeholder.getAttribute("data-cookieconsent-embed")) !== -1) {
      activateEmbed(placeholder, true);
    }
  });
  // Links marked data-cookieconsent-open (the footer's "Cookies") open the preferences in
  // place; without this script, or with nothing to choose, they lead to the policy page.
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("[data-cookieconsent-open]");
    if (!link || !offersChoice() || event.defaultPrevented || event.button !== 0 ||
        event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) {
      return;
    }
    event.preventDefault();
    openPreferences(link);
  });
  Array.prototype.forEach.call(document.querySelectorAll("[data-cookieconsent-allow-once]"),
    function (button) { button.hidden = false; });
  reserveRoomForBanner();
  apply(false, null);
  document.dispatchEvent(new CustomEvent("cookieconsent:ready", { detail: { choice: choice() } }));
})();

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
 *   window.ckanCookieConsent.openPreferences()
 *   document.addEventListener("cookieconsent:change", function (e) { e.detail.choice })
 *
 * The choice is read from the preferences cookie, not from the page, so it is right on a
 * page served from a cache.
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

  // Format v1: 1:<revision>:<time>:<consent id>:<granted ids joined by />:<signature>.
  // The server checks the signature; here a value for another revision is no choice.
  function storedChoice() {
    var value = readCookie(settings.cookieName);
    var fields = value ? value.split(":") : [];
    if (fields.length !== 6 || fields[0] !== "1" || fields[1] !== settings.revision) {
      return null;
    }
    return {
      source: "cookie",
      madeAt: parseInt(fields[2], 10),
      consentId: fields[3],
      granted: fields[4] ? fields[4].split("/") : []
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
      // Back to where the visitor was going: the page itself.
      if (!content.hasAttribute("tabindex")) {
        content.setAttribute("tabindex", "-1");
      }
      content.focus();
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
      }).then(function () {
        var embed = form.closest("[data-cookieconsent-embed]");
        var inBanner = banner && banner.contains(form);
        apply(true, embed);
        if (inBanner) {
          closeBanner();
        } else if (embed) {
          if (banner) {
            banner.hidden = true;
          }
        } else {
          if (banner) {
            banner.hidden = true;
          }
          var status = showStatus(form, true);
          if (status) {
            status.focus();
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

  function openPreferences() {
    var toggle = banner && banner.querySelector("[data-cookieconsent-customise]");
    if (banner && toggle) {
      banner.hidden = false;
      setPreferencesOpen(toggle, true);
      return;
    }
    var policyForm = document.getElementById("cookieconsent-choice");
    if (policyForm) {
      policyForm.scrollIntoView();
      var first = policyForm.querySelector("input:not([disabled])");
      if (first) {
        first.focus();
      }
      return;
    }
    location.href = settings.policyUrl + "#cookieconsent-choice";
  }

  window.ckanCookieConsent = {
    allowed: allowed,
    choice: choice,
    openPreferences: openPreferences
  };

  // A page from a cache may carry the banner although a choice was made since.
  if (banner && storedChoice()) {
    banner.hidden = true;
  }
  Array.prototype.forEach.call(document.querySelectorAll("[data-cookieconsent-customise]"), enhanceCustomise);
  Array.prototype.forEach.call(document.querySelectorAll("[data-cookieconsent-form]"), enhanceForm);
  // "Allow this once" loads one embed; "Always allow" is a consent form of its own.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-cookieconsent-allow-once]");
    if (button) {
      activateEmbed(button.closest("[data-cookieconsent-embed]"), true);
    }
  });
  Array.prototype.forEach.call(document.querySelectorAll("[data-cookieconsent-allow-once]"),
    function (button) { button.hidden = false; });
  apply(false, null);
  document.dispatchEvent(new CustomEvent("cookieconsent:ready", { detail: { choice: choice() } }));
})();

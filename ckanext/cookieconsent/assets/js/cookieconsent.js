/*
 * ckanext-cookieconsent in the browser: the core, on every page.
 *
 * The server renders everything (banner, forms, gated scripts) so that the portal works
 * without JavaScript. This script and its parts enhance it: choices apply without a
 * reload, gated scripts start the moment their category is allowed, refused cookies are
 * deleted, and other code gets an API:
 *
 *   window.ckanCookieConsent.allowed("statistics")   -> true / false
 *   window.ckanCookieConsent.choice()                -> {revision, source, categories, ...}
 *   window.ckanCookieConsent.openPreferences()       (what the footer's "Cookies" link does)
 *   document.addEventListener("cookieconsent:change", function (e) { e.detail.choice })
 *
 * What only some pages need comes in parts, each its own bundle: gate.js (pages with a
 * gated script: gate.script, ckanext-googleanalytics' tag), forms.js (the consent forms:
 * included by the policy page and embeds; with the banner, loaded here on the visitor's
 * first sign of intent in it, a pointer over it, a touch, the focus or a key: a choice made
 * before it arrives is the plain form POST, which works without JavaScript), embed.js
 * (pages with a gate.embed), policy.js (the policy page), dialog.js (the preferences
 * dialog, loaded here the first time the footer's link needs it). A part queues itself in
 * window.ckanCookieConsentParts as [name, function (core) { return hooks; }]; hooks:
 * apply(form) after each choice is applied (form: the one it was made in, or null),
 * chosen(serverChoice) after a choice made in the page, handles(form) whether the part
 * closes what the form was in, opens() whether it showed the preferences, open() (the
 * dialog).
 *
 * The choice is the one the server validated for this page (it alone can check the
 * cookie's signature), followed by the cookie while it keeps that value: a cookie changed
 * behind the page's back (planted by a sibling site, or another tab) counts as no choice.
 */
(function () {
  "use strict";

  var doc = document;
  var settingsElement = doc.getElementById("cookieconsent-settings");
  if (!settingsElement) {
    return;
  }
  var settings = JSON.parse(settingsElement.textContent);

  // --- The choice -----------------------------------------------------------------

  function readCookie(name) {  // its value, or undefined
    var found = ("; " + doc.cookie).split("; " + name + "=")[1];
    return found && found.split(";")[0];
  }

  function isRequired(id) {
    return settings.required.indexOf(id) !== -1;
  }

  // The server renders the value it accepted, if any: {value, granted, madeAt, consentId}.
  // The cookie counts as a choice while it holds that value, or the one a choice made in
  // this page returned; anything else (forged, expired, changed in another tab) is none.
  var confirmed = settings.stored;

  function current() {
    if (confirmed && readCookie(settings.cookieName) === confirmed.value) {
      return confirmed;
    }
    var gpc = settings.honorGpc && navigator.globalPrivacyControl === true;
    return {source: gpc ? "gpc" : "none", granted: gpc ? [] : settings.exempt};
  }

  function allowed(category) {
    return isRequired(category) || current().granted.indexOf(category) !== -1;
  }

  function choice() {
    var now = current();
    var categories = {};
    settings.categories.forEach(function (id) {
      categories[id] = allowed(id);
    });
    return {revision: settings.revision, source: now.source || "cookie",
      made_at: now.madeAt || null, consent_id: now.consentId || null, categories: categories};
  }

  // --- Applying a choice ----------------------------------------------------------------

  // A cookie can only be deleted with the domain and path it was set with, which the
  // browser does not tell: try the host, it and each parent domain (the catalogue's among
  // them: this page sees no other; a browser refuses a public suffix), the root and the
  // catalogue's path.
  function deleteRefusedCookies() {
    var labels = location.hostname.split(".");
    settings.cookies.forEach(function (entry) {
      if (allowed(entry.category)) {
        return;
      }
      // The catalogue's name, "*" for any characters.
      var matcher = new RegExp("^" + entry.name.replace(/[.+?^${}()|[\]\\]/g, "\\$&")
        .replace(/\*/g, ".*") + "$");
      var domains = [""].concat(labels.map(function (label, i) {
        return "; domain=." + labels.slice(i).join(".");
      }));
      doc.cookie.split("; ").forEach(function (pair) {
        var name = pair.split("=")[0];
        if (name && matcher.test(name)) {
          domains.forEach(function (domain) {
            ["/", entry.path || "/"].forEach(function (path) {
              doc.cookie = name + "=; max-age=0; path=" + path + domain;
            });
          });
        }
      });
    });
  }

  // --- The parts --------------------------------------------------------------------------

  var parts = {};
  var inOrder = [];
  var started = false;

  // Each part's hook `name` in turn, until one returns true (opens, handles: it did);
  // whether one did.
  function call(name, a, b) {
    return inOrder.some(function (part) { return part[name] && part[name](a, b) === true; });
  }

  function announce(name) {
    doc.dispatchEvent(new CustomEvent("cookieconsent:" + name, {detail: {choice: choice()}}));
  }

  function apply(isChange, form) {
    deleteRefusedCookies();
    call("apply", form);
    if (isChange) {
      announce("change");
    }
  }

  // --- The preferences, opened from anywhere (the footer's "Cookies" link) -------------

  var offersChoice = settings.categories.some(function (id) { return !isRequired(id); });

  // A part's bundle (settings.parts: the dialog's; the forms' with the banner), fetched the
  // first time it is needed: its style sheets and its script (less those the page has),
  // from this same site (a strict CSP's 'self' allows them); then each `ready` waiting for
  // it, given the part (none if it could not be loaded). A part the page has, or has no
  // bundle for, is ready at once.
  var loading = {};

  function load(name, ready) {
    var urls = settings.parts[name];
    if (parts[name] || !urls) {
      ready(parts[name]);
      return;
    }
    if (loading[name]) {
      loading[name].push(ready);
      return;
    }
    var waiting = loading[name] = [ready];
    var pending = urls.length;
    var done = function () {
      if (!--pending) {
        loading[name] = null;
        waiting.forEach(function (callback) { callback(parts[name]); });
      }
    };
    urls.forEach(function (url) {
      var css = /\.css(\?|$)/.test(url);
      var element = doc.createElement(css ? "link" : "script");
      element.rel = "stylesheet";  // a script has no such attribute
      element[css ? "href" : "src"] = url;
      element.onload = done;
      element.onerror = function () {
        settings.parts[name] = null;  // not asked for again
        pending = 1;
        done();
      };
      doc.head.appendChild(element);
    });
  }

  function toPolicy(anchor) {
    location.href = settings.policyUrl + anchor;
  }

  // Where the forms' part shows them (the banner, where the visitor sees it; the policy
  // page's own choice: policy.js), else the policy page's choice in a modal dialog
  // (dialog.js), which gives the focus back to what opened it.
  function openPreferences(from) {
    core.opener = from || doc.activeElement;
    load("forms", function () {
      if (call("opens")) {
        return;
      }
      if (!offersChoice) {
        toPolicy("");
      } else {
        load("dialog", function (part) {
          if (part) {
            part.open();
          } else {
            toPolicy("#cookieconsent-choice");
          }
        });
      }
    });
  }

  // What the parts may use.
  var core = {
    settings: settings,
    parts: parts,
    allowed: allowed,
    isRequired: isRequired,
    call: call,
    toPolicy: toPolicy,
    opener: null,  // what opened the preferences
    // A choice made in the page: the server's answer, and the cookie it set.
    confirm: function (serverChoice, form) {
      confirmed = {
        value: readCookie(settings.cookieName),
        granted: Object.keys(serverChoice.categories).filter(function (id) {
          return serverChoice.categories[id] && !isRequired(id);
        }),
        madeAt: serverChoice.made_at,
        consentId: serverChoice.consent_id
      };
      apply(true, form);
      call("chosen", serverChoice, form);
    }
  };

  function use(part) {
    var name = part[0];
    if (parts[name]) {
      return;
    }
    inOrder.push(parts[name] = part[1](core) || {});
    if (started && parts[name].apply) {
      parts[name].apply(null);
    }
  }

  window.ckanCookieConsent = {
    allowed: allowed,
    choice: choice,
    openPreferences: function () { openPreferences(null); }
  };
  var queued = window.ckanCookieConsentParts || [];
  window.ckanCookieConsentParts = {push: use};
  queued.forEach(use);

  // Links marked data-cookieconsent-open (the footer's "Cookies") open the preferences in
  // place; without this script, or with nothing to choose, they lead to the policy page.
  doc.addEventListener("click", function (event) {
    var link = event.target.closest("[data-cookieconsent-open]");
    if (link && offersChoice && !event.defaultPrevented && !event.button &&
        !(event.ctrlKey || event.metaKey || event.shiftKey || event.altKey)) {
      event.preventDefault();
      openPreferences(link);
    }
  });
  // The forms' part, on the first sign that the visitor means to use the banner (the other
  // forms come with it: the policy page's, embeds', the dialog's): a pointer over it or
  // down on it (touch included), the focus, a key, a choice. While it is on its way, a
  // choice waits for it, then goes as it sends one (no reload), and so does Space on
  // "Customise" (a button once it is there); a click on "Customise" follows the link
  // (CSS :target). If it cannot be loaded, they do what they do without JavaScript.
  var banner = doc.querySelector("[data-cookieconsent-banner]");

  function intent(event) {
    load("forms", Object);  // Object: nothing more to do once loaded
    var target = event.target;  // for a choice, its form
    var submitter = event.submitter;
    var toggle = target.closest("[data-cookieconsent-customise]");
    if (loading.forms && !event.defaultPrevented &&
        (submitter && target.requestSubmit || toggle && event.key === " ")) {
      event.preventDefault();
      loading.forms.push(function () {
        if (submitter) {
          target.requestSubmit(submitter);
        } else {
          toggle.click();
        }
      });
    }
  }

  if (banner) {
    "pointerover pointerdown focusin keydown submit".split(" ").forEach(function (type) {
      banner.addEventListener(type, intent);
    });
  }
  apply(false, null);
  started = true;
  announce("ready");
})();

/*
 * ckanext-cookieconsent's reader: what the visitor chose on the portal's CKAN, for the
 * portal's other sites (a CMS on www.example.org next to CKAN on data.example.org, with
 * ckanext.cookieconsent.cookie_domain = .example.org). No dependency; served by CKAN at
 * /cookieconsent/reader.js. The preferences cookie's format, version 1, is a stable
 * interface: docs/preferences-cookie.md.
 *
 *   <script src="https://data.example.org/cookieconsent/reader.js"></script>
 *   var choice = CookieConsentReader.read();   // or read({name: ..., maxAge: ...})
 *   if (choice && choice.allows("statistics")) { ... }
 *
 * read() returns null when there is no choice: no cookie, a value that is not version 1,
 * longer than 512 characters, older than maxAge (default 15552000 s, the extension's
 * default cookie_max_age; 0: no limit), or several cookies of the name that disagree.
 * Otherwise {version, revision, madeAt (unix seconds), date (a Date), consentId,
 * granted (the optional categories allowed, sorted), allows(id)}.
 *
 * The browser cannot check the signature (the key is derived from CKAN's secret, which
 * stays on the server): any page of the domain can plant a value. Use the answer to decide
 * what to load in the visitor's own browser, never as proof; a server that knows the
 * secret verifies the cookie as the document shows.
 */
(function (root) {
  "use strict";

  var DEFAULT_NAME = "cookies_preferences";
  var DEFAULT_MAX_AGE = 15552000;
  var MAX_LENGTH = 512;
  var CLOCK_SKEW = 300;  // seconds a choice may seem to come from the future
  var FORMAT = new RegExp("^1:([A-Za-z0-9._-]{1,32}):([0-9]{1,12}):([A-Za-z0-9_-]{16}):" +
    "([a-z0-9_/-]{0,400}):[A-Za-z0-9_-]{16}$");

  // Every value of the cookie `name` in a document.cookie string, in order.
  function valuesOf(cookies, name) {
    var found = [];
    String(cookies).split(";").forEach(function (pair) {
      var at = pair.indexOf("=");
      if (at > 0 && pair.slice(0, at).trim() === name) {
        found.push(pair.slice(at + 1).trim());
      }
    });
    return found;
  }

  // One cookie value as a choice, or null.
  function parse(value, maxAge, now) {
    if (typeof value !== "string" || value.length > MAX_LENGTH) {
      return null;
    }
    var match = FORMAT.exec(value);
    if (!match) {
      return null;
    }
    var madeAt = parseInt(match[2], 10);
    if (madeAt - now > CLOCK_SKEW || (maxAge > 0 && now - madeAt > maxAge)) {
      return null;
    }
    var granted = match[4] ? match[4].split("/") : [];
    if (granted.indexOf("") !== -1) {
      return null;
    }
    granted.sort();
    return {
      version: 1,
      revision: match[1],
      madeAt: madeAt,
      date: new Date(madeAt * 1000),
      consentId: match[3],
      granted: granted,
      allows: function (id) { return granted.indexOf(id) !== -1; },
      value: value
    };
  }

  function read(options) {
    options = options || {};
    var name = options.name || DEFAULT_NAME;
    var maxAge = typeof options.maxAge === "number" ? options.maxAge : DEFAULT_MAX_AGE;
    var cookies = typeof options.cookie === "string" ? options.cookie : root.document.cookie;
    var now = Date.now() / 1000;
    var choices = valuesOf(cookies, name).map(function (value) {
      return parse(value, maxAge, now);
    }).filter(Boolean);
    // Several cookies of the name (planted on the domain, or left over): one choice only
    // if they all say the same.
    var disagree = choices.some(function (choice) { return choice.value !== choices[0].value; });
    return choices.length && !disagree ? choices[0] : null;
  }

  root.CookieConsentReader = {version: 1, read: read};
})(typeof window !== "undefined" ? window : this);

// Uses the library loaded by an earlier gated script.
window.__order = (window.__order || []).concat(["use:" + typeof window.Lib]);

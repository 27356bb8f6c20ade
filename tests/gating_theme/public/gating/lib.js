// A library a later gated script depends on (tests/test_browser_gating.py).
window.__order = (window.__order || []).concat(["lib"]);
window.Lib = { ready: true };

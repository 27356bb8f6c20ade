/* Test theme (tests/test_browser_csp.py): a gated statistics script that says it ran. */
document.documentElement.setAttribute("data-csp-stats", "ran");

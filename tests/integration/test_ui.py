"""The web UI's shell in a real headless Chromium: files served at / and /ui/ next to Elasticsearch's probe, the token
prompt, navigation between the pages and the theme. The pages themselves: test_ui_<page>.py."""

from __future__ import annotations

import requests

from ui_demo import TOKEN, open_page

PAGES = ["logs", "metrics", "traces", "alerts", "audit"]
UNAUTHORIZED_LOAD = "status of 401"


def test_browsers_get_the_ui_and_clients_the_elasticsearch_probe(demo):
    html = requests.get(demo.url + "/", headers={"Accept": "text/html"}, timeout=10)
    assert html.status_code == 200 and html.headers["Content-Type"].startswith("text/html")
    assert "<title>Sightline</title>" in html.text
    module = requests.get(demo.url + "/ui/js/app.js", timeout=10)
    assert module.status_code == 200 and module.headers["Content-Type"].startswith("text/javascript")
    assert requests.get(demo.url + "/ui/js/app.js", headers={"If-None-Match": module.headers["ETag"]}, timeout=10).status_code == 304
    assert requests.get(demo.url + "/ui/js/nothing.js", timeout=10).status_code == 404
    # Elasticsearch clients do not ask for HTML: they still get the cluster probe (behind the token).
    probe = requests.get(demo.url + "/", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert probe.status_code == 200 and probe.json()["version"]["number"]
    assert requests.get(demo.url + "/", timeout=10).status_code == 401


def test_the_token_prompt_signs_in_and_every_page_opens_without_errors(demo, browser):
    open_page(browser, demo, "/logs", token=None)
    browser.wait_for("document.getElementById('token-dialog').open", what="the token prompt")
    assert "token" in browser.text("#token-reason").lower()
    browser.screenshot("shell-token-prompt")

    # A wrong token is refused and the prompt comes back with the server's reason.
    browser.type("#token-input", "not-the-token")
    browser.key("Enter")
    browser.wait_for("document.getElementById('token-dialog').open && "
                     "document.getElementById('token-reason').innerText.includes('unknown bearer token')",
                     what="the prompt again, naming the unknown token")
    browser.type("#token-input", TOKEN)
    browser.key("Enter")
    browser.wait_for("!document.getElementById('token-dialog').open", what="the prompt to close")
    browser.wait_for(f"localStorage.getItem('sightline.token') === '{TOKEN}'", what="the token to be stored")

    for page in PAGES:
        browser.click(f"#nav a[data-page='{page}']")
        browser.wait_for(f"location.hash.startsWith('#/{page}') && "
                         f"document.querySelector('#nav a[aria-current=page]')?.dataset.page === '{page}'",
                         what=f"the {page} page")
        browser.wait_for("document.getElementById('page').children.length > 0", what=f"the {page} page's content")
        browser.pump(1.0)
        assert not browser.eval("document.getElementById('token-dialog').open"), f"{page} asked for a token again"
        browser.screenshot(f"shell-{page}")
    assert browser.console_errors(ignore=(UNAUTHORIZED_LOAD,)) == []
    # Back returns to the previous page.
    browser.eval("history.back()")
    browser.wait_for("location.hash.startsWith('#/alerts')", what="Back to the alerts page")


def test_the_theme_switches_and_is_remembered(demo, browser):
    open_page(browser, demo, "/metrics")
    first = browser.eval("document.documentElement.dataset.theme")
    browser.click("#theme-toggle")
    second = browser.eval("document.documentElement.dataset.theme")
    assert {first, second} == {"light", "dark"}
    background = browser.eval("getComputedStyle(document.body).backgroundColor")
    browser.reload()
    assert browser.eval("document.documentElement.dataset.theme") == second
    assert browser.eval("getComputedStyle(document.body).backgroundColor") == background
    browser.screenshot(f"shell-theme-{second}")
    assert browser.console_errors() == []

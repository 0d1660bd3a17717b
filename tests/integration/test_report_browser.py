"""The report as a person sees it, in Debian's real chromium (headless): the grid's cells and
states as rendered, links that resolve inside the bundle, and a failed upgrade scenario's red
cell and reason visible without scrolling on a phone-sized window."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from tests.conftest import CliResult
from tests.support.browser import Browser
from tests.support.reportdata import demo_like

pytestmark = pytest.mark.integration
PHONE = (390, 844)

GRID = """(function () {
var cells = [].map.call(document.querySelectorAll('.gridcell'), function (c) {
  return {package: c.dataset.package, cell: c.dataset.cell, text: c.innerText,
          stages: [].map.call(c.querySelectorAll('.stage'), function (s) {
            var b = s.querySelector('.badge');
            return {stage: s.dataset.stage, text: b.innerText,
                    border: getComputedStyle(b).borderTopStyle,
                    visible: b.getBoundingClientRect().width > 0};
          })};
});
var links = [].map.call(document.querySelectorAll('a[href]'), function (a) { return a.href; });
var loaded = [].map.call(document.querySelectorAll('[src], link[href]'),
                         function (e) { return e.src || e.href; });
return {cells: cells, links: links, loaded: loaded,
        overflow: document.documentElement.scrollWidth - window.innerWidth};
})()"""

RED = """(function () {
var red = [].filter.call(document.querySelectorAll('#attention li'), function (li) {
  return li.dataset.where.indexOf('bclinux7-el7-base') >= 0; })[0];
if (!red) { return {found: false}; }
var badge = red.querySelector('.badge'), reason = red.querySelector('.reason');
function box(e) { var r = e.getBoundingClientRect();
  return {top: r.top, bottom: r.bottom, left: r.left, right: r.right}; }
return {found: true, text: red.innerText, badge: box(badge), reason: box(reason),
        reasonText: reason.innerText, background: getComputedStyle(badge).backgroundColor,
        height: window.innerHeight, width: window.innerWidth, scrollY: window.scrollY};
})()"""


def bundle(cli: Callable[..., CliResult], tree: Path, **kw: str) -> Path:
    demo_like(tree, **kw)
    result = cli("-C", str(tree), "report", "--out", str(tree / "bundle"), "--no-compare")
    assert (tree / "bundle/index.html").is_file(), result.err
    return tree / "bundle/index.html"


def test_grid_as_rendered_and_links_inside_bundle(cli: Callable[..., CliResult], tree: Path,
                                                  tmp_path: Path) -> None:
    page = bundle(cli, tree)
    with Browser(tmp_path, viewport=(1280, 900)) as browser:
        browser.open(page)
        seen = browser.evaluate(GRID)
    cells = {(c["package"], c["cell"]): c for c in seen["cells"]}
    assert len(cells) == 3 * 6
    built = {s["stage"]: s for s in cells[("libvirt-python", "bclinux-euler-x86_64")]["stages"]}
    assert built["build"]["text"].startswith("✔ PASS")
    assert built["build"]["visible"] and built["build"]["border"] == "solid"
    qemu = {s["stage"]: s for s in cells[("qemu", "bclinux7-x86_64")]["stages"]}
    assert qemu["validate"]["text"].startswith("▲ WARN") and qemu["validate"]["border"] == "dashed"
    assert qemu["build"]["text"].startswith("○ NOT RUN") and qemu["build"]["border"] == "dotted"
    bundle_dir = page.parent.resolve()
    assert seen["links"], "the page links to no log"
    for href in seen["links"]:
        url = urlparse(href)
        assert url.scheme == "file", href
        target = Path(unquote(url.path)).resolve()
        assert target.is_file() and bundle_dir in target.parents, href
    assert seen["loaded"] == []  # nothing fetched: no image, stylesheet or script by URL


def test_failed_scenario_red_and_reason_visible_on_a_phone(cli: Callable[..., CliResult],
                                                          tree: Path, tmp_path: Path) -> None:
    page = bundle(cli, tree, failed_scenario="bclinux7-el7-base")
    with Browser(tmp_path, viewport=PHONE) as browser:
        browser.open(page)
        seen = browser.evaluate(RED)
        shot = browser.screenshot(tmp_path / "phone.png")
    assert seen["found"], "no red cell for the failed scenario"
    assert (seen["width"], seen["scrollY"]) == (PHONE[0], 0)
    assert "✘ FAIL" in seen["text"]
    assert seen["reasonText"].startswith("qemu-kvm is still installed after the upgrade")
    assert seen["background"] == "rgb(198, 40, 40)"
    for box in (seen["badge"], seen["reason"]):  # inside the first screen, no scrolling
        assert 0 <= box["top"] < box["bottom"] <= seen["height"], box
        assert 0 <= box["left"] < box["right"] <= seen["width"], box
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def test_phone_layout_does_not_overflow(cli: Callable[..., CliResult], tree: Path,
                                        tmp_path: Path) -> None:
    page = bundle(cli, tree, failed_scenario="bclinux7-el7-base")
    with Browser(tmp_path, viewport=PHONE) as browser:
        browser.open(page)
        seen = browser.evaluate(GRID)
    assert seen["overflow"] <= 0, "the page scrolls sideways on a phone"

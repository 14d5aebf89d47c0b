"""The portal for keyboard and screen-reader users: on every page each control has an accessible name
(a label, its text or aria-label), images have alternatives, the page has one main landmark and a way to
skip to it, and the keyboard reaches the page's controls in order, with the focus visible."""

from __future__ import annotations

import pytest

from portal_support import NARROW, chromium, log_in

pytestmark = pytest.mark.cluster

PAGES = {"": "#recent-tasks table, #recent-tasks p", "files": "#files-listing tbody tr",
         "jobs": "main table", "compose": "textarea", "transfers": "main table, main p",
         # the timeline comes last, from sacct: its list of jobs holds the page's controls
         "status": "#timeline-chart summary, #timeline-chart p.text-body-secondary:not(:text-is('Loading…'))"}

# The controls of the page without an accessible name, as the browser computes it closely enough here:
# aria-label, aria-labelledby, a <label for>, a wrapping <label>, its own text, title, or an image's alt.
UNNAMED = """() => {
  const named = (node) => {
    if ((node.getAttribute('aria-label') || '').trim()) return true;
    const by = node.getAttribute('aria-labelledby');
    if (by && by.split(/\\s+/).some((id) => (document.getElementById(id)?.textContent || '').trim())) return true;
    if (node.id && [...document.querySelectorAll('label')].some((l) => l.htmlFor === node.id && l.textContent.trim())) return true;
    if (node.closest('label') && node.closest('label').textContent.trim()) return true;
    if (['BUTTON', 'A', 'SUMMARY'].includes(node.tagName) && (node.textContent.trim() || node.querySelector('img[alt]:not([alt=""])'))) return true;
    if ((node.getAttribute('title') || '').trim()) return true;
    return node.tagName === 'INPUT' && ['submit', 'button'].includes(node.type) && node.value.trim();
  };
  const visible = (node) => node.offsetParent !== null || node.getClientRects().length > 0;
  const controls = [...document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary')];
  const unnamed = controls.filter(visible).filter((node) => !named(node)).map((node) => node.outerHTML.slice(0, 120));
  const images = [...document.querySelectorAll('img')].filter((img) => !img.hasAttribute('alt')).map((img) => img.outerHTML.slice(0, 120));
  return { unnamed, images, mains: document.querySelectorAll('main').length };
}"""


async def opened(visitor, path: str):
    """The page at `path` (the files page on alice's home), once its content is there."""
    return await visitor.open(path + ("?system=cluster&path=/home/alice" if path == "files" else ""),
                              ready=PAGES[path])


@pytest.mark.parametrize("path", PAGES)
async def test_every_control_is_named_and_the_keyboard_reaches_them(path):
    async with chromium() as browser:
        visitor = await log_in(browser, "alice")
        page = await opened(visitor, path)
        for size in (None, NARROW):
            if size:
                await page.set_viewport_size(size)
            found = await page.evaluate(UNNAMED)
            assert found["unnamed"] == [] and found["images"] == [], found
            assert found["mains"] == 1

        # The first Tab lands on the skip link, which moves the focus to the page's content.
        await page.keyboard.press("Tab")
        assert await page.evaluate("document.activeElement.classList.contains('skip-link')")
        await page.keyboard.press("Enter")
        assert await page.evaluate("document.activeElement.id") == "main"
        # From there Tab goes through the page's own controls, each with a visible focus.
        reached = set()
        for _ in range(8):
            await page.keyboard.press("Tab")
            focused = await page.evaluate("""() => {
              const node = document.activeElement, style = getComputedStyle(node);
              const ring = style.outlineStyle !== 'none' && style.outlineWidth !== '0px' || style.boxShadow !== 'none';
              return { inMain: !!node.closest('main'), tag: node.tagName, ring };
            }""")
            if focused["inMain"]:
                reached.add(focused["tag"])
                assert focused["ring"], focused
        assert reached, "Tab reached no control of the page"
        visitor.assert_no_problems()


# What a narrow window would have to scroll sideways for: the page, or a table wider than its box.
TOO_WIDE = """() => {
  const page = document.documentElement;
  const tables = [...document.querySelectorAll('table')].filter((table) => table.getClientRects().length > 0)
    .filter((table) => table.scrollWidth > table.parentElement.clientWidth + 1)
    .map((table) => `${table.closest('[id]')?.id}: ${table.scrollWidth} px in ${table.parentElement.clientWidth}`);
  return page.scrollWidth > page.clientWidth + 1 ? [`the page: ${page.scrollWidth} px`, ...tables] : tables;
}"""


@pytest.mark.parametrize("path", PAGES)
async def test_every_page_fits_a_narrow_window(path):
    async with chromium() as browser:
        visitor = await log_in(browser, "alice")
        await visitor.page.set_viewport_size(NARROW)
        page = await opened(visitor, path)
        assert await page.evaluate(TOO_WIDE) == []
        visitor.assert_no_problems()

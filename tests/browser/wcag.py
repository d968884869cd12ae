"""WCAG 2.2 AA checks that axe-core does not make, run on a page as a person
left it: reflow at 320 CSS px and at 200 % zoom (1.4.10, 1.4.4), target size
(2.5.8), focus visible and not hidden (2.4.7, 2.4.11), an error summary that
has the focus when the page opens, and fields that let password managers and
pasting work (3.3.8). `wcag(page, label)` runs them all; each returns a list
of problems, so a failure names every one at once."""

from __future__ import annotations

from playwright.sync_api import Page

# 1280 px at 200 % zoom lays out as 640 CSS px; 320 CSS px is 1280 px at 400 %.
REFLOW_WIDTHS = (640, 320)
MIN_TARGET_PX = 24
# Tab presses at most per page (the longest admin pages have about 60 stops).
MAX_TABS = 120

_OVERFLOW = """
(width) => {
  const doc = document.documentElement;
  const wide = [];
  if (doc.scrollWidth > width + 1) {
    for (const el of document.querySelectorAll('main *, header *, footer *')) {
      const r = el.getBoundingClientRect();
      if (r.width > 0 && r.right > width + 1 && !el.closest('.nhsuk-table-container')) {
        wide.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
          (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ')[0] : '') +
          ' right=' + Math.round(r.right));
      }
    }
  }
  return {scrollWidth: doc.scrollWidth, wide: wide.slice(0, 5)};
}
"""

_SMALL_TARGETS = """
(min) => {
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    const s = getComputedStyle(el);
    // 1 px boxes are visually hidden (the skip link until it has the focus).
    return r.width > 1 && r.height > 1 && s.visibility !== 'hidden' && s.display !== 'none';
  };
  const targets = [];
  for (const el of document.querySelectorAll('button, input:not([type=hidden]), select, textarea, a[href], summary')) {
    if (!visible(el)) continue;
    // Links inside a sentence are exempt (2.5.8 "inline").
    if (el.tagName === 'A') {
      const block = el.closest('p, li, dd, td, th, div');
      const own = (el.textContent || '').trim();
      if (block && (block.textContent || '').trim() !== own) continue;
    }
    // NHS.UK radios and checkboxes are drawn by their label's 40 px box.
    let box = el;
    if ((el.type === 'radio' || el.type === 'checkbox') && el.labels && el.labels[0]) box = el.labels[0];
    const r = box.getBoundingClientRect();
    targets.push({el, r, cx: r.left + r.width / 2, cy: r.top + r.height / 2,
                  small: r.width < min - 0.5 || r.height < min - 0.5});
  }
  // The spacing exception: an undersized target passes when a circle of 24 px diameter on its
  // centre meets no other target, nor the circle of another undersized one.
  const distanceToRect = (x, y, r) => {
    const dx = Math.max(r.left - x, 0, x - r.right);
    const dy = Math.max(r.top - y, 0, y - r.bottom);
    return Math.hypot(dx, dy);
  };
  const problems = [];
  for (const t of targets) {
    if (!t.small) continue;
    const crowded = targets.some(o => o !== t && !o.el.contains(t.el) && !t.el.contains(o.el) && (
      o.small ? Math.hypot(o.cx - t.cx, o.cy - t.cy) < min : distanceToRect(t.cx, t.cy, o.r) < min / 2));
    if (crowded) {
      problems.push(`${t.el.tagName.toLowerCase()} "${(t.el.textContent || t.el.name || t.el.id || '').trim().slice(0, 40)}" ${Math.round(t.r.width)}x${Math.round(t.r.height)} is too close to another target`);
    }
  }
  return problems;
}
"""

_FOCUS_STATE = """
() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const s = getComputedStyle(el);
  const r = el.getBoundingClientRect();
  const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0 &&
    s.outlineColor !== 'transparent' && !/rgba\\(.*, 0\\)$/.test(s.outlineColor);
  const shadow = s.boxShadow && s.boxShadow !== 'none';
  const indicated = outline || shadow;
  // Hidden by other content (2.4.11): the element (or its label) is what is on top at its
  // centre, once scrolled into view.
  const x = Math.min(Math.max(r.left + r.width / 2, 0), innerWidth - 1);
  const y = Math.min(Math.max(r.top + r.height / 2, 0), innerHeight - 1);
  const top = document.elementFromPoint(x, y);
  const label = el.labels && el.labels[0];
  const onTop = !!top && (el.contains(top) || top.contains(el) || (label && (label.contains(top) || top === label)));
  const inView = r.bottom > 0 && r.top < innerHeight && r.right > 0 && r.left < innerWidth;
  const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + ' "' + (el.textContent || el.name || '').trim().slice(0, 30) + '"';
  return {name, indicated, onTop, inView, visuallyHidden: r.width <= 1 && r.height <= 1};
}
"""


def error_summary_focused(page: Page) -> list[str]:
    summary = page.locator(".nhsuk-error-summary")
    if summary.count() == 0:
        return []
    focused = page.evaluate("!!document.activeElement && document.activeElement.classList.contains('nhsuk-error-summary')")
    return [] if focused else ["the error summary does not have the focus when the page opens"]


def fields_let_password_managers_work(page: Page) -> list[str]:
    problems = []
    for field in page.locator("input[type=password]").all():
        if field.get_attribute("autocomplete") not in ("current-password", "new-password"):
            problems.append(f"password field #{field.get_attribute('id')} has no current-/new-password autocomplete")
    for field in page.locator("input[name=code]").all():
        if field.get_attribute("autocomplete") != "one-time-code":
            problems.append(f"code field #{field.get_attribute('id')} is not autocomplete=one-time-code")
    blocked = page.evaluate(
        "[...document.querySelectorAll('input')].filter(i => i.onpaste || i.getAttribute('onpaste')).map(i => i.id)"
    )
    problems += [f"#{i} blocks pasting" for i in blocked]
    return problems


def reflows(page: Page) -> list[str]:
    problems = []
    original = page.viewport_size
    try:
        for width in REFLOW_WIDTHS:
            page.set_viewport_size({"width": width, "height": 800})
            result = page.evaluate(_OVERFLOW, width)
            if result["scrollWidth"] > width + 1:
                problems.append(
                    f"at {width} px the page is {result['scrollWidth']} px wide (scrolls sideways): {result['wide']}"
                )
            if width == 320:
                problems += [f"at 320 px a target is under {MIN_TARGET_PX} px: {t}" for t in page.evaluate(_SMALL_TARGETS, MIN_TARGET_PX)]
    finally:
        if original:
            page.set_viewport_size(original)
    return problems


def small_targets(page: Page) -> list[str]:
    return [f"a target is under {MIN_TARGET_PX} px: {t}" for t in page.evaluate(_SMALL_TARGETS, MIN_TARGET_PX)]


def focus_is_visible(page: Page) -> list[str]:
    """Tab through the page from the top: every stop shows a focus indicator and is not
    hidden behind other content."""
    problems = []
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.evaluate("window.scrollTo(0, 0)")
    seen = set()
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        state = page.evaluate(_FOCUS_STATE)
        if state is None:
            break
        if state["name"] in seen:
            break
        seen.add(state["name"])
        if state["visuallyHidden"]:
            # A skip link appears only when it has the focus; anything else is a trap.
            problems.append(f"{state['name']} takes the focus but cannot be seen")
        elif not state["indicated"]:
            problems.append(f"{state['name']} shows no focus indicator")
        elif not (state["inView"] and state["onTop"]):
            problems.append(f"{state['name']} is hidden behind other content when focused")
    return problems


def wcag(page: Page, label: str = "", on_load: bool = True) -> None:
    """Assert the checks above on the page as it is now (the error summary's focus first:
    the others move it). `on_load=False` leaves out the error summary's focus, for a page a
    test has already worked on."""
    problems = error_summary_focused(page) if on_load else []
    problems += fields_let_password_managers_work(page)
    problems += small_targets(page)
    problems += focus_is_visible(page)
    problems += reflows(page)
    assert not problems, f"WCAG checks beyond axe on {label or page.url}:\n- " + "\n- ".join(problems)

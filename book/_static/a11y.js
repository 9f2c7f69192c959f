// Names for what the saved widgets draw without one (axe-core's button-name,
// aria-input-field-name, scrollable-region-focusable and image-alt rules): the play
// widget's icon buttons, slider handles, scrolled boxes, and pictures: a widget picture
// takes as its alt text the caption the course's widgets put right after it (.lab-alt),
// since an ipywidgets Image has no alt of its own (and a tooltip on it breaks its view).
// The widgets are drawn after the page loads (html-manager), so new nodes are watched.
(function () {
  var PLAY = ["play the steps", "pause", "back to the first step", "repeat when it ends"];
  function label(root) {
    root.querySelectorAll(".widget-play").forEach(function (play) {
      play.querySelectorAll("button").forEach(function (b, i) {
        if (!b.getAttribute("aria-label")) b.setAttribute("aria-label", PLAY[i] || "play control");
      });
    });
    root.querySelectorAll(".widget-slider").forEach(function (s) {
      var name = (s.querySelector(".widget-label") || {}).textContent || "value";
      s.querySelectorAll("[role=slider]").forEach(function (h) {
        if (!h.getAttribute("aria-label")) h.setAttribute("aria-label", name.trim() || "value");
      });
    });
    root.querySelectorAll(".widget-box, .widget-html-content > div").forEach(function (box) {
      var style = getComputedStyle(box);
      var scrolls = /(auto|scroll)/.test(style.overflow + style.overflowX + style.overflowY);
      if (scrolls && !box.hasAttribute("tabindex")) {
        box.setAttribute("tabindex", "0");
        box.setAttribute("role", "region");
        box.setAttribute("aria-label", "a scrolled part of the output");
      }
    });
    root.querySelectorAll("img.widget-image:not([alt])").forEach(function (img) {
      var box = img.parentElement, caption = null;
      for (var up = 0; box && up < 3 && !caption; up++, box = box.parentElement)
        caption = box.querySelector(".lab-alt");
      if (caption) img.setAttribute("alt", caption.textContent.trim());
      else if (img.title) img.setAttribute("alt", img.title);
    });
  }
  function start() {
    label(document);
    new MutationObserver(function () { label(document); })
      .observe(document.body, {childList: true, subtree: true});
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

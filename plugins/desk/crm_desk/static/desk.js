// The desk's own script: keyboard shortcuts only (the pages work without it).
// "/" or Ctrl+K (Cmd+K) puts the cursor in the search box at the top of every page.
document.addEventListener("keydown", function (event) {
  var search = document.getElementById("desk-search");
  if (!search) return;
  var typing = /^(INPUT|TEXTAREA|SELECT)$/.test(event.target.tagName) || event.target.isContentEditable;
  if ((event.key === "/" && !typing) || (event.key.toLowerCase() === "k" && (event.ctrlKey || event.metaKey))) {
    event.preventDefault();
    search.focus();
    search.select();
  }
});

// A table wider than the page scrolls sideways in its .table-wrap, and a chart (at a phone's width) in its
// figure: such a wrap is made reachable by keyboard (a focusable region named after the table's caption or
// the chart's text), so what is past the edge can be read.
function deskScrollableTables(root) {
  var wraps = (root || document).querySelectorAll(".table-wrap, figure.chart");
  for (var i = 0; i < wraps.length; i++) {
    var wrap = wraps[i];
    if (wrap.scrollWidth > wrap.clientWidth + 1) {
      if (!wrap.hasAttribute("tabindex")) {
        var caption = wrap.querySelector("caption");
        var image = wrap.querySelector("img[alt]");
        var name = caption ? caption.textContent.trim() : image ? image.getAttribute("alt") : document.title;
        wrap.setAttribute("tabindex", "0");
        wrap.setAttribute("role", "region");
        wrap.setAttribute("aria-label", name);
      }
    } else if (wrap.getAttribute("tabindex") === "0" && wrap.getAttribute("role") === "region") {
      wrap.removeAttribute("tabindex");
      wrap.removeAttribute("role");
      wrap.removeAttribute("aria-label");
    }
  }
}
document.addEventListener("DOMContentLoaded", function () { deskScrollableTables(document); });
document.addEventListener("htmx:afterSettle", function (event) { deskScrollableTables(document); });
window.addEventListener("resize", function () { deskScrollableTables(document); });

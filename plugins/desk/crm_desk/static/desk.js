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

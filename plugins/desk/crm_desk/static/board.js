// Drag and drop for boards (the pipeline): native HTML5 drag and drop, no library.
// A board is [data-board]; its columns are [data-board-column="<value>"]; a card is
// [data-board-card] holding a form [data-board-move] with a <select> of the columns' values.
// Dropping a card on another column chooses that value in the card's menu and sends its form,
// so the mouse, the keyboard (the menu and its button) and a browser without JavaScript
// all go through the same form. No inline script: the page's CSP forbids it.
(function () {
  function clear(board) {
    board.querySelectorAll(".drop-target").forEach(function (el) { el.classList.remove("drop-target"); });
  }
  function setUp(board) {
    var dragged = null;
    board.addEventListener("dragstart", function (event) {
      var card = event.target.closest && event.target.closest("[data-board-card]");
      if (!card) return;
      dragged = card;
      card.classList.add("dragging");
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", card.id);
    });
    board.addEventListener("dragend", function () {
      if (dragged) dragged.classList.remove("dragging");
      dragged = null;
      clear(board);
    });
    board.addEventListener("dragover", function (event) {
      var column = event.target.closest && event.target.closest("[data-board-column]");
      if (!dragged || !column) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "move";
      if (!column.classList.contains("drop-target")) {
        clear(board);
        column.classList.add("drop-target");
      }
    });
    board.addEventListener("drop", function (event) {
      var column = event.target.closest && event.target.closest("[data-board-column]");
      if (!dragged || !column) return;
      event.preventDefault();
      clear(board);
      var value = column.getAttribute("data-board-column");
      var form = dragged.querySelector("form[data-board-move]");
      var menu = form && form.querySelector("select");
      if (!menu || value === dragged.getAttribute("data-stage")) return;
      menu.value = value;
      var cards = column.querySelector("[data-board-cards]");
      if (cards) cards.appendChild(dragged);
      dragged.classList.add("moving");
      if (form.requestSubmit) form.requestSubmit(); else form.submit();
    });
  }
  function start() { document.querySelectorAll("[data-board]").forEach(setUp); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();

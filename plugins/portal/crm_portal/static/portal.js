/* The portal's script: survey conditions, rows to add, focus on problems.
   Everything works without it: the server shows conditional questions
   when their condition holds, and the forms have one empty row to add. */
(function () {
  "use strict";

  function questionValue(fieldset) {
    var kind = fieldset.getAttribute("data-kind");
    if (fieldset.disabled || fieldset.hidden) { return undefined; }
    var inputs = fieldset.querySelectorAll("input, textarea");
    if (kind === "multiple_choice") {
      var chosen = [];
      inputs.forEach(function (input) { if (input.checked) { chosen.push(input.value); } });
      return chosen.length ? chosen : undefined;
    }
    if (kind === "text") {
      var text = inputs.length ? inputs[0].value : "";
      return text.trim() ? text : undefined;
    }
    var value;
    inputs.forEach(function (input) { if (input.checked) { value = input.value; } });
    if (value === undefined) { return undefined; }
    if (kind === "nps" || kind === "csat" || kind === "rating") { return Number(value); }
    if (kind === "yes_no") { return value === "yes"; }
    return value;
  }

  function holds(condition, values) {
    var answer = values[condition.question];
    var expected = condition.value;
    if (answer === undefined) { return false; }
    switch (condition.op) {
      case "answered": return true;
      case "=": return answer === expected;
      case "!=": return answer !== expected;
      case "<": return answer < expected;
      case "<=": return answer <= expected;
      case ">": return answer > expected;
      case ">=": return answer >= expected;
      case "in": return Array.isArray(expected) && expected.indexOf(answer) >= 0;
      case "not in": return Array.isArray(expected) && expected.indexOf(answer) < 0;
      case "contains": return Array.isArray(answer) && answer.indexOf(expected) >= 0;
      default: return false;
    }
  }

  function updateSurvey(form) {
    var values = {};
    form.querySelectorAll("fieldset[data-key]").forEach(function (fieldset) {
      var raw = fieldset.getAttribute("data-show-if");
      if (raw) {
        var show = holds(JSON.parse(raw), values);
        fieldset.hidden = !show;
        fieldset.disabled = !show;
      }
      var key = fieldset.getAttribute("data-key");
      var marker = form.querySelector('input[data-shown="' + key + '"]');
      if (!fieldset.hidden && !marker) {
        marker = document.createElement("input");
        marker.type = "hidden";
        marker.name = "shown";
        marker.value = key;
        marker.setAttribute("data-shown", key);
        fieldset.after(marker);
      } else if (fieldset.hidden && marker) {
        marker.remove();
      }
      var value = questionValue(fieldset);
      if (value !== undefined) { values[key] = value; }
    });
  }

  function setUpRows(container) {
    var name = container.getAttribute("data-rows");
    var max = Number(container.getAttribute("data-max")) || 10;
    var button = container.querySelector('button[data-add="' + name + '"]');
    if (!button) { return; }
    function rows() { return container.querySelectorAll("[data-row]"); }
    button.hidden = rows().length >= max;
    button.addEventListener("click", function () {
      var all = rows();
      var last = all[all.length - 1];
      var index = 0;
      container.querySelectorAll("[data-row] [name]").forEach(function (input) {
        var match = input.name.match(/^[a-z_]+-(\d+)-/);
        if (match) { index = Math.max(index, Number(match[1]) + 1); }
      });
      // a copy of the last row, emptied and renumbered
      var row = last.cloneNode(true);
      var pattern = new RegExp("(^|\\s)(" + name + "-)\\d+(-)", "g");
      row.querySelectorAll("[id], [for], [name], [aria-describedby]").forEach(function (element) {
        ["id", "for", "name", "aria-describedby"].forEach(function (attribute) {
          var value = element.getAttribute(attribute);
          if (value) { element.setAttribute(attribute, value.replace(pattern, "$1$2" + index + "$3")); }
        });
      });
      row.querySelectorAll(".error").forEach(function (error) { error.remove(); });
      row.querySelectorAll("[aria-invalid]").forEach(function (element) { element.removeAttribute("aria-invalid"); });
      row.querySelectorAll(".invalid").forEach(function (element) { element.classList.remove("invalid"); });
      row.querySelectorAll("input").forEach(function (input) {
        if (input.type === "radio") {
          input.checked = false;
          input.value = String(index);
        } else {
          input.value = "";
        }
      });
      row.querySelectorAll("select").forEach(function (select) {
        var blank = select.querySelector('option[value=""]');
        if (blank) { select.value = ""; }
      });
      last.after(row);
      var first = row.querySelector("input, select");
      if (first) { first.focus(); }
      button.hidden = rows().length >= max;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-survey]").forEach(function (form) {
      updateSurvey(form);
      form.addEventListener("change", function () { updateSurvey(form); });
      form.addEventListener("input", function () { updateSurvey(form); });
    });
    document.querySelectorAll("[data-rows]").forEach(setUpRows);
    var focus = document.querySelector("[data-focus]");
    if (focus) { focus.focus(); }
  });
})();

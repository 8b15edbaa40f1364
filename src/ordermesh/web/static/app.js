/* ordermesh dashboard: small progressive enhancements. Every page works without this file. */
(function () {
  "use strict";

  function typing(target) {
    return target instanceof HTMLElement &&
      (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  // "/" jumps to the page's search box; Escape leaves it.
  document.addEventListener("keydown", function (event) {
    if (event.key === "/" && !event.ctrlKey && !event.metaKey && !event.altKey && !typing(event.target)) {
      var box = document.querySelector("[data-search]");
      if (box) {
        event.preventDefault();
        box.focus();
        box.select();
      }
    } else if (event.key === "Escape" && event.target instanceof HTMLElement && event.target.matches("[data-search]")) {
      event.target.blur();
    }
  });

  // The movement form shows the fields the chosen kind uses, and names the quantity for it.
  var form = document.querySelector("[data-movement-form]");
  if (form) {
    var kind = form.querySelector("[name=kind]");
    var hint = document.getElementById("f-kind-hint");
    var quantityLabel = form.querySelector("[data-label-for-kind]");
    var reasonNote = form.querySelector("[data-reason-note]");
    var quantityLabels = { count: "Counted quantity", adjustment: "Change (+ adds, \u2212 removes)" };
    var sync = function () {
      var chosen = kind.value;
      form.querySelectorAll("[data-kinds]").forEach(function (field) {
        var used = field.getAttribute("data-kinds").split(" ").indexOf(chosen) >= 0;
        field.hidden = !used && !field.classList.contains("invalid");
        if (field.hidden) {
          field.querySelectorAll("select, input").forEach(function (input) { input.value = ""; });
        }
      });
      var option = kind.options[kind.selectedIndex];
      hint.textContent = option ? option.getAttribute("data-hint") : "";
      quantityLabel.textContent = quantityLabels[chosen] || "Quantity";
      reasonNote.textContent = chosen === "adjustment" ? "(required)" : "(optional)";
    };
    kind.addEventListener("change", sync);
    sync();
    window.addEventListener("pageshow", function () {
      form.querySelector("button[type=submit]").disabled = false;
    });
    form.addEventListener("submit", function () {
      var button = form.querySelector("button[type=submit]");
      // after the submission has started, so a double click posts once
      window.setTimeout(function () { button.disabled = true; }, 0);
    });
  }

  // The order queue: "select all" ticks every order on the page, and the bar says how many are chosen.
  var bulk = document.querySelector("[data-bulk-form]");
  if (bulk) {
    var all = bulk.querySelector("[data-select-all]");
    var note = bulk.querySelector("[data-selection-note]");
    var boxes = function () { return bulk.querySelectorAll("input[name=order]"); };
    var count = function () {
      var chosen = Array.prototype.filter.call(boxes(), function (box) { return box.checked; }).length;
      if (note) {
        note.textContent = chosen ? chosen + " selected:" : "Select orders, then";
      }
      if (all) {
        all.checked = chosen > 0 && chosen === boxes().length;
        all.indeterminate = chosen > 0 && chosen < boxes().length;
      }
    };
    if (all) {
      all.addEventListener("change", function () {
        boxes().forEach(function (box) { box.checked = all.checked; });
        count();
      });
    }
    bulk.addEventListener("change", function (event) {
      if (event.target instanceof HTMLInputElement && event.target.name === "order") {
        count();
      }
    });
    count();
  }

  // After a rejected form, start at the first field that needs fixing.
  var invalid = document.querySelector("[aria-invalid=true]");
  if (invalid) {
    invalid.focus();
  }
})();

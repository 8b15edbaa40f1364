/* The pack station: each scan (a USB scanner types the code and presses Enter) is sent with fetch,
   in the order scanned; the result is shown big, the counts updated, and the focus kept in the scan
   box so the next scan is never lost to a page load. Without this file the form posts as usual. */
(function () {
  "use strict";

  var form = document.querySelector("[data-scan-form]");
  if (!form || !window.fetch || !window.FormData) {
    return;
  }
  var input = form.querySelector("input[name=barcode]");
  var result = document.getElementById("scan-result");
  var closeBox = document.querySelector("[data-close-box]");
  var packedUnits = document.querySelector("[data-packed-units]");
  var queue = Promise.resolve();
  var pending = 0;

  function show(accepted, message) {
    result.textContent = message;
    result.className = "scan-result " + (accepted ? "good" : "bad");
    result.hidden = false;
  }

  function update(lines) {
    var total = 0;
    lines.forEach(function (line, i) {
      total += line.packed;
      var row = document.querySelector("tr[data-line='" + i + "']");
      if (row) {
        row.querySelector("[data-packed]").textContent = String(line.packed);
        row.classList.toggle("done", line.packed >= line.quantity);
      }
    });
    if (packedUnits) {
      packedUnits.textContent = String(total);
    }
  }

  function send(code) {
    var body = new FormData(form);
    body.set("barcode", code);
    return fetch(form.action, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { Accept: "application/json" }
    })
      .then(function (response) {
        var type = response.headers.get("content-type") || "";
        if (!response.ok || type.indexOf("application/json") < 0) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (data) {
        if (data.goto) {
          window.location.assign(data.goto);
          return;
        }
        show(data.accepted, data.message);
        update(data.lines);
        if (data.status !== "created") { // packed meanwhile (another station): show the page as it is now
          window.location.reload();
          return;
        }
        if (closeBox) {
          closeBox.hidden = !data.complete;
        }
        if (data.complete && closeBox && pending === 1 && !input.value) {
          closeBox.querySelector("input[name=weight_g]").focus(); // next: weigh the box
        } else {
          input.focus();
        }
      })
      .catch(function () {
        show(false, "Scan of " + code + " not recorded: check the connection and scan it again");
        input.focus();
      })
      .then(function () {
        pending -= 1;
      });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var code = input.value.trim();
    input.value = "";
    input.focus();
    if (!code) {
      return;
    }
    pending += 1;
    queue = queue.then(function () { return send(code); });
  });
})();

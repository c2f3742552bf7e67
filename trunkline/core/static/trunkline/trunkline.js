// Trunkline control panel behaviour: popouts, per-user columns, tabs, selections. No framework.
(function () {
  "use strict";

  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  // Popouts: one open at a time; Escape closes.
  document.querySelectorAll("[data-popout]").forEach(function (button) {
    button.addEventListener("click", function () {
      const target = document.getElementById(button.dataset.popout);
      const wasHidden = target.hidden;
      document.querySelectorAll(".popout").forEach(function (p) { p.hidden = true; });
      target.hidden = !wasHidden;
    });
  });
  document.querySelectorAll(".popout [data-close]").forEach(function (button) {
    button.addEventListener("click", function () { button.closest(".popout").hidden = true; });
  });
  // A click outside an open popout (and not on its button) closes it.
  document.addEventListener("click", function (event) {
    if (event.target.closest(".popout, [data-popout]")) return;
    document.querySelectorAll(".popout").forEach(function (p) { p.hidden = true; });
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") document.querySelectorAll(".popout").forEach(function (p) { p.hidden = true; });
  });

  // Selects that apply at once (status drop-down, rows per page).
  document.querySelectorAll("form[data-autosubmit] select").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
    // The empty choice ("All statuses") means no filter: leave it out of the query, as "status=" is no valid status.
    select.form.addEventListener("formdata", function (event) {
      if (!select.value) event.formData.delete(select.name);
    });
  });

  // Row selection for bulk actions.
  const selectAll = document.querySelector("[data-select-all]");
  const rowBoxes = Array.from(document.querySelectorAll("#bulk-form input[name=pk]"));
  const needsSelection = Array.from(document.querySelectorAll("[data-needs-selection]"));
  function refreshSelection() {
    const any = rowBoxes.some(function (box) { return box.checked; });
    needsSelection.forEach(function (button) { button.disabled = !any; });
  }
  if (selectAll) {
    selectAll.addEventListener("change", function () {
      rowBoxes.forEach(function (box) { box.checked = selectAll.checked; });
      refreshSelection();
    });
  }
  rowBoxes.forEach(function (box) { box.addEventListener("change", refreshSelection); });
  refreshSelection();

  // Columns popout: tick, reorder (arrows or drag), save for this operator.
  const list = document.querySelector(".column-list");
  if (list) {
    list.addEventListener("click", function (event) {
      const button = event.target.closest("button[data-move]");
      if (!button) return;
      const item = button.closest("li");
      if (button.dataset.move === "up" && item.previousElementSibling) list.insertBefore(item, item.previousElementSibling);
      if (button.dataset.move === "down" && item.nextElementSibling) list.insertBefore(item.nextElementSibling, item);
    });
    let dragged = null;
    list.addEventListener("dragstart", function (event) {
      dragged = event.target.closest("li");
      dragged.classList.add("dragging");
    });
    list.addEventListener("dragend", function () { if (dragged) dragged.classList.remove("dragging"); dragged = null; });
    list.addEventListener("dragover", function (event) {
      event.preventDefault();
      const over = event.target.closest("li");
      if (!dragged || !over || over === dragged) return;
      const rect = over.getBoundingClientRect();
      list.insertBefore(dragged, event.clientY > rect.top + rect.height / 2 ? over.nextSibling : over);
    });
    function post(body) {
      return fetch(list.dataset.preferenceUrl, {
        method: "POST", body: body, credentials: "same-origin", headers: { "X-CSRFToken": csrfToken() },
      }).then(function (response) {
        if (!response.ok) throw new Error("Could not save the columns.");
        window.location.reload();
      }).catch(function (error) { window.alert(error.message); });
    }
    document.querySelector("[data-save-columns]").addEventListener("click", function () {
      const columns = Array.from(list.querySelectorAll("input[type=checkbox]"))
        .filter(function (box) { return box.checked; })
        .map(function (box) { return box.value; });
      const body = new FormData();
      body.append("columns", JSON.stringify(columns));
      post(body);
    });
    document.querySelector("[data-reset-columns]").addEventListener("click", function () {
      const body = new FormData();
      body.append("reset", "1");
      post(body);
    });
  }

  // Audit difference: changed fields only, unless asked for all.
  document.querySelectorAll("[data-toggle-unchanged]").forEach(function (box) {
    box.addEventListener("change", function () {
      document.querySelector(".table.diff").classList.toggle("hide-unchanged", !box.checked);
    });
  });

  // Fields that apply only to some choices: data-show-if="channel=email" shows the field while the control named
  // channel has the value email; "!auto_generate_password" while that box is unticked. The field's wrapper hides.
  document.querySelectorAll("[data-show-if]").forEach(function (input) {
    const rule = input.dataset.showIf;
    const negate = rule.startsWith("!");
    const [name, wanted] = rule.replace(/^!/, "").split("=");
    const form = input.form;
    const controls = Array.from(form.elements).filter(function (el) { return el.name === name; });
    const wrapper = input.closest(".field") || input;
    function current() {
      const chosen = controls.find(function (el) { return (el.type !== "radio" && el.type !== "checkbox") || el.checked; });
      if (!chosen) return "";
      return chosen.type === "checkbox" ? "on" : chosen.value;
    }
    function refresh() {
      const value = current();
      const match = wanted === undefined ? value !== "" : value === wanted;
      wrapper.hidden = negate ? match : !match;
    }
    controls.forEach(function (el) { el.addEventListener("change", refresh); });
    refresh();
  });

  // Rows that open a detail row beneath them (View Difference in an audit list).
  document.querySelectorAll("[data-toggle-row]").forEach(function (button) {
    button.addEventListener("click", function () {
      const row = document.getElementById(button.dataset.toggleRow);
      row.hidden = !row.hidden;
      button.setAttribute("aria-expanded", row.hidden ? "false" : "true");
    });
  });

  // Tabs in edit forms: open the first tab with errors, else the first.
  document.querySelectorAll(".tabs").forEach(function (tabs) {
    const buttons = Array.from(tabs.querySelectorAll(".tab"));
    function show(button) {
      buttons.forEach(function (b) {
        const active = b === button;
        b.classList.toggle("active", active);
        b.setAttribute("aria-selected", active ? "true" : "false");
        document.getElementById(b.dataset.tab).hidden = !active;
      });
    }
    buttons.forEach(function (button) { button.addEventListener("click", function () { show(button); }); });
    show(buttons.find(function (b) { return b.classList.contains("has-errors"); }) || buttons[0]);
  });
})();

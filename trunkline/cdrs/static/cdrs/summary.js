// The Main tab's Summary: select cells (click; Shift-click a block from the last clicked cell; Ctrl/Cmd-click adds
// or removes one) and read their sum and average underneath. Sums are exact: each cell's text is a decimal with
// at most 6 places, added as integer millionths (BigInt), never as floats. The average is the arithmetic mean of
// the selected cells, so for ASR, ACD and Profit % it is an average of averages, and the text says so.
(() => {
  "use strict";
  const SCALE = 1000000n;
  const RATIOS = new Set(["asr", "acd", "profit_pct"]);

  function micros(text) {
    const negative = text.startsWith("-");
    const [whole, fraction = ""] = text.replace(/^[-+]/, "").split(".");
    const value = BigInt(whole || "0") * SCALE + BigInt((fraction + "000000").slice(0, 6));
    return negative ? -value : value;
  }

  function places(text) {
    const dot = text.indexOf(".");
    return dot < 0 ? 0 : text.length - dot - 1;
  }

  // A BigInt of millionths, rounded half away from zero to `digits` places, as text.
  function decimalText(value, digits) {
    const negative = value < 0n;
    let magnitude = negative ? -value : value;
    const step = 10n ** BigInt(6 - digits);
    magnitude = (magnitude + step / 2n) / step;
    let text = magnitude.toString();
    if (digits > 0) {
      text = text.padStart(digits + 1, "0");
      text = `${text.slice(0, -digits)}.${text.slice(-digits)}`;
    }
    return (negative && magnitude !== 0n ? "-" : "") + text;
  }

  function setUp(table) {
    const cells = Array.from(table.querySelectorAll("td.cell"));
    const output = table.closest("section").querySelector("[data-testid=summary-selection]");
    let anchor = null;

    function position(cell) {
      return [cell.parentElement.rowIndex, cell.cellIndex];
    }

    function show() {
      const selected = cells.filter((cell) => cell.classList.contains("selected"));
      if (!selected.length) {
        output.textContent = "Nothing selected.";
        return;
      }
      let sum = 0n;
      let digits = 0;
      for (const cell of selected) {
        sum += micros(cell.dataset.value);
        digits = Math.max(digits, places(cell.dataset.value));
      }
      const count = BigInt(selected.length);
      const mean = (sum * 2n + (sum < 0n ? -count : count)) / (2n * count);  // half away from zero, in millionths
      const ratios = selected.some((cell) => RATIOS.has(cell.dataset.column));
      output.replaceChildren();
      const parts = [
        [`${selected.length} cell${selected.length === 1 ? "" : "s"} selected: `, null],
        ["Sum ", null], [decimalText(sum, digits), "summary-sum"],
        [" · Average ", null], [decimalText(mean, Math.min(6, Math.max(digits, 2))), "summary-average"],
        [ratios ? " (arithmetic mean of the selected cells: for ASR, ACD and Profit % an average of averages,"
          + " not the ratio of the totals)" : " (arithmetic mean of the selected cells)", null],
      ];
      for (const [text, testid] of parts) {
        if (testid) {
          const strong = document.createElement("strong");
          strong.dataset.testid = testid;
          strong.textContent = text;
          output.append(strong);
        } else {
          output.append(text);
        }
      }
    }

    table.addEventListener("click", (event) => {
      const cell = event.target.closest("td.cell");
      if (!cell || !table.contains(cell)) {
        return;
      }
      if (event.shiftKey && anchor) {
        const [r1, c1] = position(anchor);
        const [r2, c2] = position(cell);
        const [top, bottom, left, right] = [Math.min(r1, r2), Math.max(r1, r2), Math.min(c1, c2), Math.max(c1, c2)];
        if (!(event.ctrlKey || event.metaKey)) {
          cells.forEach((other) => other.classList.remove("selected"));
        }
        for (const other of cells) {
          const [row, column] = position(other);
          if (row >= top && row <= bottom && column >= left && column <= right) {
            other.classList.add("selected");
          }
        }
        window.getSelection()?.removeAllRanges();
      } else if (event.ctrlKey || event.metaKey) {
        cell.classList.toggle("selected");
        anchor = cell;
      } else {
        const only = cell.classList.contains("selected")
          && cells.filter((other) => other.classList.contains("selected")).length === 1;
        cells.forEach((other) => other.classList.remove("selected"));
        if (!only) {
          cell.classList.add("selected");
        }
        anchor = cell;
      }
      show();
    });
    table.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        cells.forEach((cell) => cell.classList.remove("selected"));
        show();
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("table.summary-grid").forEach(setUp);
  });
})();

// Keyward console: progressive enhancement only; every form works without it.
"use strict";

function selectAndCopy(source, button) {
  const range = document.createRange();
  range.selectNodeContents(source);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
  const copied = document.execCommand && document.execCommand("copy");
  button.textContent = copied ? "Copied" : "Selected: press Ctrl+C";
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  if (!source) return;
  if (!navigator.clipboard) {
    selectAndCopy(source, button);
    return;
  }
  navigator.clipboard.writeText(source.textContent.trim()).then(
    () => { button.textContent = "Copied"; },
    () => selectAndCopy(source, button),
  );
});

document.addEventListener("submit", (event) => {
  const message = event.target.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});

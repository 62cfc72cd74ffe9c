/* Account and admin pages: the copy button of a new API token.
 *
 * Delegated on the document, so it works on sections htmx swaps in. Without the
 * Clipboard API (or permission), the token is selected for the user to copy.
 */
(function () {
  "use strict";

  function copied(button, text) {
    var label = button.dataset.label || button.textContent;
    button.dataset.label = label;
    button.textContent = text;
    setTimeout(function () { button.textContent = label; }, 2000);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var field = document.querySelector(button.dataset.copy);
    if (!field) return;
    field.focus();
    field.select();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(
        function () { copied(button, "Copied"); },
        function () { copied(button, "Press Ctrl+C"); }
      );
    } else {
      copied(button, "Press Ctrl+C");
    }
  });
})();

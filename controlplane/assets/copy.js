// The new-key page's Copy button: the key to the clipboard, and the button says so.
document.addEventListener("DOMContentLoaded", () => {
  const button = document.getElementById("copy");
  const key = document.getElementById("key");
  if (!button || !key) return;
  button.hidden = false;
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(key.textContent.trim());
      button.textContent = "Copied";
    } catch (e) {
      // No clipboard (an insecure origin, a refused permission): select the key instead.
      window.getSelection().selectAllChildren(key);
      button.textContent = "Selected: press Ctrl+C";
    }
  });
});

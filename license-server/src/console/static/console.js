// The console works without this script. With it, forms marked data-confirm ask before they
// are sent (the server still requires the confirmation box to be ticked).
document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form instanceof HTMLFormElement ? form.dataset.confirm : undefined;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

// Progressive enhancement only: every action works without this file.
"use strict";

// The validation queue refreshes itself (data-refresh seconds) unless the user is working in the page.
(function refreshQueue() {
  const queue = document.getElementById("queue");
  const seconds = queue && Number(queue.dataset.refresh);
  if (!seconds) return;
  setInterval(async () => {
    if (document.hidden || queue.contains(document.activeElement)) return;
    try {
      const response = await fetch(location.href, { credentials: "same-origin" });
      if (!response.ok) return;
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = page.getElementById("queue");
      if (fresh && fresh.innerHTML !== queue.innerHTML) queue.innerHTML = fresh.innerHTML;
    } catch (error) {
      // offline or server restarting: the next round tries again
    }
  }, seconds * 1000);
})();

// Keyboard shortcuts on a report page: "v" validates as is, "r" goes to the rejection reason.
document.addEventListener("keydown", (event) => {
  const target = event.target;
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) return;
  if (event.key === "v") {
    const validate = document.querySelector('#decision button[value="validate"]');
    if (validate) { event.preventDefault(); validate.focus(); }
  } else if (event.key === "r") {
    const reason = document.getElementById("note");
    if (reason) { event.preventDefault(); reason.focus(); }
  }
});

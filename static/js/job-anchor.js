// A link to the dashboard at one job, /#job-<id> (the campaign summary email gives one:
// campaigns/summary.py): once that job is on the page, scroll to it and mark it, so the link
// lands on the job. The list is drawn by other modules after this one loads (and may be
// redrawn), so it waits for the element instead of looking once.

const LOOK_FOR = 15000; // ms; a job no longer among the recent ones is never drawn

function land(id) {
  const selector = `[data-job-id="${CSS.escape(id)}"]`;
  const show = (el) => {
    el.classList.add("job-linked");
    if (!el.hasAttribute("tabindex")) el.setAttribute("tabindex", "-1");
    el.scrollIntoView({ block: "center" });
    el.focus({ preventScroll: true });
  };
  const found = document.querySelector(selector);
  if (found) return show(found);
  const observer = new MutationObserver(() => {
    const el = document.querySelector(selector);
    if (el) {
      observer.disconnect();
      show(el);
    }
  });
  observer.observe(document.body, { childList: true, subtree: true });
  setTimeout(() => observer.disconnect(), LOOK_FOR);
}

function fromHash() {
  const match = /^#job-([0-9a-f-]{36})$/i.exec(window.location.hash);
  if (match) land(match[1].toLowerCase());
}

window.addEventListener("hashchange", fromHash);
fromHash();

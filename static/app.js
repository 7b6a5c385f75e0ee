// Progressive enhancement only: every action works without this file.
// Copy buttons copy exactly the text of their target element, and say so in a polite live
// region next to them, so a screen reader announces it too.
document.querySelectorAll("button[data-copy-target]").forEach((button) => {
  const target = document.getElementById(button.dataset.copyTarget);
  if (!target || !navigator.clipboard) return;
  button.hidden = false;
  const status = document.createElement("span");
  status.setAttribute("role", "status");
  status.setAttribute("aria-live", "polite");
  status.className = "copy-status visually-hidden";
  button.after(status);
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(target.textContent);
      button.textContent = "Copied";
      status.textContent = "Copied to the clipboard.";
    } catch {
      button.textContent = "Select the text and copy it";
      status.textContent = "Could not copy: select the text and copy it.";
    }
    setTimeout(() => {
      button.textContent = "Copy";
      status.textContent = "";
    }, 2500);
  });
});

// After an action the page's notice or result takes the focus (it has tabindex=-1 and
// autofocus; this repeats it for browsers that ignore autofocus on such elements), so a
// keyboard or screen-reader user starts from what just happened rather than the page top.
const focusFirst = document.querySelector("[data-focus]");
if (focusFirst && document.activeElement === document.body) focusFirst.focus();

// Times: the server writes UTC; show them in the browser's own time zone. A <time> with a
// title (a relative "3 hours ago") gets the exact local time as its title; one with the
// class "exact" gets it as its text.
// (dateStyle/timeStyle cannot be combined with timeZoneName: the fields are spelled out.)
const exactFormat = new Intl.DateTimeFormat(undefined, {
  year: "numeric",
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  timeZoneName: "short",
});
document.querySelectorAll("time[datetime]").forEach((time) => {
  const when = new Date(time.getAttribute("datetime"));
  if (Number.isNaN(when.getTime())) return;
  const exact = exactFormat.format(when);
  if (time.classList.contains("exact")) time.textContent = exact;
  else time.title = exact;
});

// Caps Lock warning on password fields that have a warning element next to them.
const capsWarning = document.getElementById("caps-warning");
document.querySelectorAll("input[type=password]").forEach((field) => {
  if (!capsWarning) return;
  const update = (event) => {
    if (event.getModifierState) capsWarning.hidden = !event.getModifierState("CapsLock");
  };
  field.addEventListener("keydown", update);
  field.addEventListener("keyup", update);
});

// Live connection test: post the form to the streaming endpoint and tick the steps off as
// they happen. Without JavaScript the form posts normally and the result page comes back.
const checkForm = document.getElementById("check-form");
if (checkForm && window.fetch && window.TextDecoder) {
  checkForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const live = document.getElementById("check-live");
    const output = document.getElementById("check-output");
    const button = checkForm.querySelector("button[type=submit]");
    live.replaceChildren();
    live.hidden = false;
    output.replaceChildren();
    button.disabled = true;
    const items = new Map();
    try {
      const response = await fetch("/check/stream", {
        method: "POST",
        body: new URLSearchParams(new FormData(checkForm)),
        credentials: "same-origin",
      });
      if (response.redirected) {
        // The session ended meanwhile: go to the sign-in page the server sent us to.
        window.location.assign(response.url);
        return;
      }
      if (!response.ok) {
        live.hidden = true;
        // Rate limit or another refusal: show the server's own error page text.
        const page = new DOMParser().parseFromString(await response.text(), "text/html");
        const message = page.querySelector("main p");
        output.textContent = message ? message.textContent : "The test could not run.";
        output.focus();
        return;
      }
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let newline;
        while ((newline = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, newline);
          buffer = buffer.slice(newline + 1);
          if (!line) continue;
          const message = JSON.parse(line);
          if (message.event === "started") {
            const item = document.createElement("li");
            item.className = "running";
            item.textContent = message.label + "…";
            items.set(message.index, item);
            live.append(item);
          } else if (message.event === "finished") {
            const item = items.get(message.index) || live.appendChild(document.createElement("li"));
            item.className = message.outcome;
            item.textContent = `${message.label} (${message.duration_ms} ms): ${message.summary}`;
          } else if (message.event === "result") {
            // Rendered and escaped by the server's template.
            output.innerHTML = message.html;
            live.hidden = true;
            const result = output.querySelector("[tabindex]");
            if (result) result.focus();
          }
        }
      }
    } catch {
      live.hidden = true;
      output.textContent = "The connection to Mailkeys was lost during the test.";
      output.focus();
    } finally {
      button.disabled = false;
    }
  });
}

// Progressive enhancement only: every action works without this file.
// Copy buttons copy exactly the text of their target element.
document.querySelectorAll("button[data-copy-target]").forEach((button) => {
  const target = document.getElementById(button.dataset.copyTarget);
  if (!target || !navigator.clipboard) return;
  button.hidden = false;
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(target.textContent);
      button.textContent = "Copied";
    } catch {
      button.textContent = "Select the text and copy it";
    }
    setTimeout(() => { button.textContent = "Copy"; }, 2500);
  });
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
          }
        }
      }
    } catch {
      live.hidden = true;
      output.textContent = "The connection to Mailkeys was lost during the test.";
    } finally {
      button.disabled = false;
    }
  });
}

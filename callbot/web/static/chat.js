"use strict";
// The web chat: one conversation with the same assistant as on the phone, through the chat API.
(() => {
  const log = document.getElementById("log");
  const form = document.getElementById("composer");
  const input = document.getElementById("message");
  const send = document.getElementById("send");
  const status = document.getElementById("status");
  const restart = document.getElementById("restart");
  let session = null;
  let idleTimer = null;
  const IDLE_MS = 120000;  // silence in a chat: tell the assistant once the user has typed nothing for 2 min

  function armIdle() {
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => { if (!input.value && !input.disabled) exchange(""); }, IDLE_MS);
  }

  function show(text, who) {
    const item = document.createElement("p");
    item.className = "message " + who;
    const label = document.createElement("span");
    label.className = "who";
    label.textContent = who === "bot" ? "Assistant : " : "Vous : ";
    item.append(label, document.createTextNode(text));  // text, never HTML
    log.append(item);
    log.scrollTop = log.scrollHeight;
  }

  function ready(enabled) {
    input.disabled = !enabled;
    send.disabled = !enabled;
    if (enabled) input.focus();
  }

  async function call(path, body) {
    const response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body || {}),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.error || "Erreur " + response.status);
    return data;
  }

  async function start() {
    log.replaceChildren();
    restart.hidden = true;
    status.textContent = "Connexion…";
    try {
      const data = await call("/chat/sessions");
      session = data.session;
      data.messages.forEach((text) => show(text, "bot"));
      status.textContent = "";
      ready(true);
      armIdle();
    } catch (error) {
      status.textContent = "L'assistant est indisponible : " + error.message;
      restart.hidden = false;
    }
  }

  async function exchange(text) {
    if (text) show(text, "caller");
    input.value = "";
    ready(false);
    status.textContent = "L'assistant écrit…";
    try {
      const data = await call("/chat/sessions/" + session + "/messages", { text });
      data.messages.forEach((message) => show(message, "bot"));
      status.textContent = data.ended ? "Conversation terminée." : "";
      if (data.ended) { restart.hidden = false; restart.focus(); } else { ready(true); armIdle(); }
    } catch (error) {
      status.textContent = error.message;
      restart.hidden = false;
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (text && session) exchange(text);
  });
  restart.addEventListener("click", start);
  start();
})();

// Pipeline board: drag a card to another column to move the opportunity through the stage gate.
// A refused drop snaps the card back and lists the unmet requirements.
(function () {
  "use strict";

  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (match) return decodeURIComponent(match[1]);
    const headers = document.body.getAttribute("hx-headers");
    try { return JSON.parse(headers)["X-CSRFToken"]; } catch (e) { return ""; }
  }

  function showMessage(board, title, items) {
    const box = document.getElementById("board-message");
    box.textContent = "";
    const strong = document.createElement("strong");
    strong.textContent = title;
    box.appendChild(strong);
    if (items && items.length) {
      const list = document.createElement("ul");
      items.forEach((item) => {
        const li = document.createElement("li");
        li.dataset.code = item.code || "";
        li.textContent = item.detail ? item.label + " — " + item.detail : item.label;
        list.appendChild(li);
      });
      box.appendChild(list);
    }
    box.hidden = false;
  }

  function snapBack(evt) {
    const from = evt.from;
    const ref = from.children[evt.oldIndex] || null;
    from.insertBefore(evt.item, ref);
  }

  function updateColumns(board, columns) {
    board.querySelectorAll(".board-column").forEach((col) => {
      const entry = columns[col.dataset.stage] || { count: 0, totals: "—" };
      col.querySelector("[data-count]").textContent = entry.count;
      col.querySelector("[data-totals]").textContent = entry.totals;
    });
  }

  function onDrop(board, evt) {
    if (evt.from === evt.to) return;
    const card = evt.item;
    const stage = evt.to.dataset.stage;
    const url = board.dataset.moveUrl.replace("/0/", "/" + card.dataset.id + "/") + (board.dataset.query ? "?" + board.dataset.query : "");
    const body = new URLSearchParams({ stage: stage });
    card.classList.add("moving");
    fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRFToken": csrfToken(), "Content-Type": "application/x-www-form-urlencoded" },
      body: body.toString(),
    })
      .then((response) => response.json().then((data) => ({ ok: response.ok, data: data })))
      .then((result) => {
        card.classList.remove("moving");
        if (!result.ok) {
          snapBack(evt);
          const unmet = result.data.unmet || [];
          const fields = result.data.fields || {};
          const extra = Object.keys(fields).map((k) => ({ code: k, label: [].concat(fields[k]).map((m) => (m && m.message) || m).join(" ") }));
          showMessage(board, unmet.length ? board.dataset.refused : (result.data.message || board.dataset.failed), unmet.length ? unmet : extra);
          return;
        }
        document.getElementById("board-message").hidden = true;
        card.dataset.version = result.data.version;
        if (result.data.stage !== stage) {
          // e.g. won → S5 onboarding: put the card where it really is.
          const target = board.querySelector('.board-cards[data-stage="' + result.data.stage + '"]');
          if (target) target.prepend(card); else card.remove();
        }
        updateColumns(board, result.data.columns || {});
      })
      .catch(() => {
        card.classList.remove("moving");
        snapBack(evt);
        showMessage(board, board.dataset.failed, []);
      });
  }

  function init() {
    const board = document.getElementById("board");
    if (!board || typeof Sortable === "undefined") return;
    board.querySelectorAll(".board-cards").forEach((list) => {
      Sortable.create(list, {
        group: "board",
        animation: 120,
        draggable: ".board-card",
        filter: ".board-more",
        onEnd: (evt) => onDrop(board, evt),
      });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();

// The board: cards move by drag and drop or by a keyboard menu of the workflow's targets, as status
// changes through the API with If-Match; every change made anywhere arrives over the event stream and
// is redrawn from the server's own card fragment.
import { ApiError, api, explain, fragment, toLogin } from "./api.js";
import { connectLive } from "./live.js";
import { announce } from "./messages.js";
import { Panel } from "./panel.js";

const board = document.getElementById("board");
const projectId = board.dataset.projectId;
const projectKey = board.dataset.projectKey;
const filterQuery = board.dataset.filters;
const panel = new Panel(document.getElementById("panel"), { projectKey });

const column = (status) => board.querySelector(`.column[data-status="${status}"]`);
const columnLabel = (status) => column(status).querySelector("h2").firstChild.textContent.trim();
const cardByKey = (key) => document.getElementById(`card-${key}`);
const cardById = (id) => board.querySelector(`.card[data-id="${id}"]`);
const withFilters = (url, extra = "") => {
  const query = [filterQuery, extra].filter(Boolean).join("&");
  return query ? `${url}?${query}` : url;
};

function setCount(status, count) {
  column(status).querySelector("[data-count]").textContent = String(count);
}

function shiftCount(status, delta) {
  const counter = column(status).querySelector("[data-count]");
  counter.textContent = String(Math.max(0, Number(counter.textContent) + delta));
}

// --- Redrawing a card from the server ----------------------------------------------------------

const refreshing = new Map(); // ticket key -> promise: one fetch at a time per card, then one more
async function refreshCard(key) {
  const previous = refreshing.get(key) || Promise.resolve();
  const next = previous.then(() => redrawCard(key)).catch(() => undefined);
  refreshing.set(key, next);
  return next;
}

async function redrawCard(key) {
  const { response, content } = await fragment(withFilters(`/board/${projectKey}/cards/${encodeURIComponent(key)}/`));
  const counts = response.headers.get("X-Board-Counts");
  if (counts) for (const [status, count] of Object.entries(JSON.parse(counts))) setCount(status, count);
  const current = cardByKey(key);
  const fresh = content.querySelector(".card");
  if (!fresh) {
    if (current) current.remove();
    return;
  }
  const hadFocus = current && current.contains(document.activeElement);
  const focusedMove = hadFocus && document.activeElement.classList.contains("move-button");
  if (current && current.dataset.status === fresh.dataset.status) {
    current.replaceWith(fresh);
  } else {
    if (current) current.remove();
    column(fresh.dataset.status).querySelector(".cards").prepend(fresh);
  }
  if (hadFocus) (fresh.querySelector(focusedMove ? ".move-button" : ".card-title") || fresh).focus();
}

// --- Moves -------------------------------------------------------------------------------------

async function moveCard(card, target) {
  const from = card.dataset.status;
  if (target === from) return;
  const key = card.dataset.key;
  const list = card.parentElement;
  const next = card.nextElementSibling;
  // Moving a node in the document takes focus from it: a keyboard user keeps their place.
  const focused = card.contains(document.activeElement) ? document.activeElement : null;
  column(target).querySelector(".cards").prepend(card);
  if (focused) focused.focus();
  shiftCount(from, -1);
  shiftCount(target, 1);
  card.classList.add("pending");
  try {
    await api("PATCH", `tickets/${card.dataset.id}/`, { json: { status: target }, ifMatch: card.dataset.version });
    card.classList.remove("pending");
    announce(`${key} moved to ${columnLabel(target)}.`, "success");
    await refreshCard(key);
  } catch (error) {
    // The card returns where it was, and the message says why.
    card.classList.remove("pending");
    const stillFocused = card.contains(document.activeElement) ? document.activeElement : null;
    list.insertBefore(card, next && next.parentElement === list ? next : null);
    if (stillFocused) stillFocused.focus();
    shiftCount(target, -1);
    shiftCount(from, 1);
    announce(explain(error, key), "error");
    if (error instanceof ApiError && [404, 412].includes(error.status)) await refreshCard(key);
  }
}

// Drag and drop: any column is a drop target; the server's workflow decides (409 explains a refusal).
let dragged = null;
board.addEventListener("dragstart", (event) => {
  const card = event.target.closest && event.target.closest(".card[draggable=true]");
  if (!card) return;
  dragged = card;
  card.classList.add("dragging");
  event.dataTransfer.effectAllowed = "move";
  event.dataTransfer.setData("text/plain", card.dataset.key);
});
board.addEventListener("dragend", () => {
  if (dragged) dragged.classList.remove("dragging");
  dragged = null;
  for (const target of board.querySelectorAll(".drop-target")) target.classList.remove("drop-target");
});
board.addEventListener("dragover", (event) => {
  const target = event.target.closest(".column");
  if (!dragged || !target || target.dataset.status === dragged.dataset.status) return;
  event.preventDefault();
  event.dataTransfer.dropEffect = "move";
  for (const other of board.querySelectorAll(".drop-target")) if (other !== target) other.classList.remove("drop-target");
  target.classList.add("drop-target");
});
board.addEventListener("drop", (event) => {
  const target = event.target.closest(".column");
  if (!dragged || !target) return;
  event.preventDefault();
  const card = dragged;
  target.classList.remove("drop-target");
  moveCard(card, target.dataset.status);
});

// The keyboard's way (WAI-ARIA menu button): "Move" opens the workflow's targets for the card.
function openMenu(button) {
  const menu = document.getElementById(button.getAttribute("aria-controls"));
  button.setAttribute("aria-expanded", "true");
  menu.hidden = false;
  const first = menu.querySelector("[role=menuitem]");
  if (first) first.focus();
}

function closeMenu(button, { focusButton = true } = {}) {
  const menu = document.getElementById(button.getAttribute("aria-controls"));
  button.setAttribute("aria-expanded", "false");
  menu.hidden = true;
  if (focusButton) button.focus();
}

board.addEventListener("click", (event) => {
  const moveButton = event.target.closest(".move-button");
  if (moveButton) {
    if (moveButton.getAttribute("aria-expanded") === "true") closeMenu(moveButton);
    else openMenu(moveButton);
    return;
  }
  const item = event.target.closest("[role=menuitem][data-target]");
  if (item) {
    const card = item.closest(".card");
    closeMenu(card.querySelector(".move-button"));
    moveCard(card, item.dataset.target);
    return;
  }
  const title = event.target.closest(".card-title");
  if (title && !event.metaKey && !event.ctrlKey && !event.shiftKey) {
    event.preventDefault();
    panel.open(title.closest(".card").dataset.key, title);
    return;
  }
  const more = event.target.closest("[data-more]");
  if (more) showMore(more);
});

board.addEventListener("keydown", (event) => {
  const menu = event.target.closest("[role=menu]");
  if (!menu) return;
  const items = Array.from(menu.querySelectorAll("[role=menuitem]"));
  const index = items.indexOf(event.target);
  const button = menu.closest(".move").querySelector(".move-button");
  if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    event.preventDefault();
    const step = event.key === "ArrowDown" ? 1 : -1;
    items[(index + step + items.length) % items.length].focus();
  } else if (event.key === "Escape") {
    event.preventDefault();
    closeMenu(button);
  } else if (event.key === "Tab") {
    closeMenu(button, { focusButton: false });
  }
});

// --- Creating, paging ------------------------------------------------------------------------------

board.addEventListener("submit", async (event) => {
  const form = event.target.closest(".new-ticket");
  if (!form) return;
  event.preventDefault();
  const input = form.elements.title;
  try {
    let ticket = await api("POST", "tickets/", { json: { project: projectId, title: input.value } });
    if (form.dataset.status !== ticket.status) {
      ticket = await api("PATCH", `tickets/${ticket.id}/`, {
        json: { status: form.dataset.status },
        ifMatch: ticket.version,
      });
    }
    input.value = "";
    announce(`${ticket.key} created in ${columnLabel(ticket.status)}.`, "success");
    await refreshCard(ticket.key);
  } catch (error) {
    announce(explain(error, "New ticket"), "error");
  }
});

async function showMore(button) {
  const { response, content } = await fragment(withFilters(button.dataset.url, `offset=${button.dataset.offset}`));
  const list = button.closest(".column").querySelector(".cards");
  for (const card of content.querySelectorAll(".card")) if (!cardByKey(card.dataset.key)) list.append(card);
  const nextOffset = response.headers.get("X-Next-Offset");
  if (nextOffset) button.dataset.offset = nextOffset;
  else button.remove();
}

// --- Live ----------------------------------------------------------------------------------------

function onEvent(event) {
  if (event.project !== projectId) return;
  const [kind, action] = event.type.split(".");
  if (kind === "ticket") {
    if (action === "deleted") {
      const card = cardById(event.ticket);
      if (card) {
        shiftCount(card.dataset.status, -1);
        card.remove();
      }
      if (panel.isOpen && panel.ticketId === event.ticket) panel.showGone();
      return;
    }
    refreshCard(event.data.key);
  } else if (kind === "comment" || kind === "image") {
    const card = cardById(event.ticket);
    if (card) refreshCard(card.dataset.key);
  } else if (kind === "project" || kind === "member") {
    if (event.data && event.data.user && event.data.user.id === board.dataset.userId) window.location.reload();
    if (event.type === "project.deleted") window.location.assign("/board/");
    return;
  }
  if (panel.isOpen && panel.ticketId === event.ticket) panel.refresh();
}

connectLive({
  lastSeq: Number(board.dataset.lastSeq),
  indicator: document.getElementById("live-indicator"),
  onEvent,
  onSessionEnded: toLogin,
});

// The notifications bell (SPEC §11) in every signed-in page's header: the unread count, and the latest
// notifications in a menu. On a board page the count follows the event stream's `notification`
// messages at once (live.js passes them on as a window event); on other pages it is asked again every
// POLL_MS and whenever the tab comes back into view.
import { api, explain } from "./api.js";

const POLL_MS = 30000;
const SHOWN = 10;

const root = document.getElementById("notifications");
const button = root.querySelector("button");
const badge = root.querySelector(".bell-count");
const menu = document.getElementById("notifications-menu");
const list = menu.querySelector("ul");
const readAll = menu.querySelector("[data-action='read-all']");

const EVENT_WORDS = {
  "ticket.created": "created",
  "ticket.updated": "changed",
  "ticket.deleted": "deleted",
  "comment.created": "commented on",
  "comment.updated": "edited a comment on",
  "comment.deleted": "deleted a comment on",
  "image.ready": "added an image to",
  "image.failed": "could not process an image of",
};

function showCount(count) {
  badge.textContent = count > 99 ? "99+" : String(count);
  badge.hidden = count === 0;
  button.setAttribute("aria-label", `Notifications, ${count} unread`);
}

async function refreshCount() {
  // A plain fetch, not api(): a count asked in the background never navigates, not even to the login
  // page when the session has just ended (that would cut short the navigation the person started,
  // e.g. logging out). The count stays as it was; the next poll or notification tries again.
  try {
    const response = await fetch("/api/v1/notifications/unread-count/", {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    if (response.ok) showCount((await response.json()).count);
  } catch {
    // offline for now
  }
}

function ticketUrl(ticket) {
  const projectKey = ticket.key.split("-")[0];
  return `/board/${projectKey}/tickets/${ticket.key}/`;
}

function item(notification) {
  const entry = document.createElement("li");
  entry.className = notification.read_at ? "notification" : "notification unread";
  const link = document.createElement("a");
  link.href = ticketUrl(notification.ticket);
  const actor = notification.event.actor ? notification.event.actor.full_name || notification.event.actor.email : "hopla";
  const verb = EVENT_WORDS[notification.event.type] || notification.event.type;
  // textContent everywhere: titles and names are people's text, never markup.
  link.textContent = `${actor} ${verb} ${notification.ticket.key} ${notification.ticket.title}`;
  link.addEventListener("click", async (click) => {
    if (notification.read_at) return;
    click.preventDefault();
    try {
      await api("POST", `notifications/${notification.id}/read/`);
    } finally {
      window.location.assign(link.href);
    }
  });
  const when = document.createElement("time");
  when.dateTime = notification.created_at;
  when.textContent = new Date(notification.created_at).toLocaleString();
  entry.append(link, when);
  return entry;
}

async function fillMenu() {
  list.replaceChildren();
  try {
    const page = await api("GET", `notifications/?limit=${SHOWN}`);
    if (page.results.length === 0) {
      const empty = document.createElement("li");
      empty.className = "notification empty";
      empty.textContent = "Nothing yet: you hear here about the tickets you watch.";
      list.append(empty);
    }
    list.append(...page.results.map(item));
  } catch (error) {
    const failed = document.createElement("li");
    failed.className = "notification empty";
    failed.textContent = explain(error, "Notifications");
    list.append(failed);
  }
}

function close() {
  menu.hidden = true;
  button.setAttribute("aria-expanded", "false");
}

button.addEventListener("click", async () => {
  if (!menu.hidden) {
    close();
    return;
  }
  menu.hidden = false;
  button.setAttribute("aria-expanded", "true");
  await fillMenu();
  const first = menu.querySelector("a, button");
  if (first) first.focus();
});

readAll.addEventListener("click", async () => {
  await api("POST", "notifications/read-all/", { json: {} });
  showCount(0);
  await fillMenu();
});

document.addEventListener("keydown", (key) => {
  if (key.key === "Escape" && !menu.hidden) {
    close();
    button.focus();
  }
});
document.addEventListener("click", (click) => {
  if (!menu.hidden && !root.contains(click.target)) close();
});

window.addEventListener("hopla:notification", () => {
  refreshCount();
  if (!menu.hidden) fillMenu();
});
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") refreshCount();
});
window.setInterval(refreshCount, POLL_MS);
refreshCount();

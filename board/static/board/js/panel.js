// A ticket's panel: its fields, comments, images and history, rendered by the server; edits, comments
// and uploads go to the JSON API. Used as the board's side panel and on a ticket's own page.
import { ApiError, api, explain, fragment } from "./api.js";
import { announce } from "./messages.js";

function changedFields(form) {
  const changes = {};
  for (const field of form.elements) {
    if (!field.name) continue;
    const initial =
      field.tagName === "SELECT"
        ? (Array.from(field.options).find((option) => option.defaultSelected) || field.options[0] || {}).value
        : field.defaultValue;
    if (field.value === initial) continue;
    if (field.name === "labels") {
      changes.labels = field.value.split(",").map((label) => label.trim()).filter(Boolean);
    } else if (field.name === "assignee" || field.name === "due_date") {
      changes[field.name] = field.value || null;
    } else {
      changes[field.name] = field.value;
    }
  }
  return changes;
}

export class Panel {
  constructor(element, { projectKey, standalone = false }) {
    this.element = element;
    this.projectKey = projectKey;
    this.standalone = standalone;
    this.key = standalone ? element.querySelector("[data-panel]").dataset.ticketKey : null;
    this.opener = null;
    this.etag = null; // of the panel as last read: its refreshes ask with it (304: nothing changed)
    this.refreshing = Promise.resolve(); // one refresh at a time, each asking with the last one's ETag
    element.addEventListener("submit", (event) => this.onSubmit(event));
    element.addEventListener("change", (event) => this.onChange(event));
    element.addEventListener("click", (event) => {
      if (event.target.closest("[data-panel-close]")) this.close();
    });
    element.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !standalone) this.close();
    });
    document.addEventListener("paste", (event) => this.onPaste(event));
  }

  get isOpen() {
    return this.key !== null && (this.standalone || !this.element.hidden);
  }

  get body() {
    return this.element.querySelector("[data-panel]");
  }

  get ticketId() {
    return this.body ? this.body.dataset.ticketId : null;
  }

  url() {
    return `/board/${this.projectKey}/tickets/${encodeURIComponent(this.key)}/panel/`;
  }

  async open(ticketKey, opener) {
    this.key = ticketKey;
    this.opener = opener || null;
    if (!(await this.load())) return;
    this.element.hidden = false;
    this.element.querySelector("#panel-heading").focus();
  }

  async load() {
    const { response, content } = await fragment(this.url());
    if (response.status !== 200) {
      this.showGone();
      return false;
    }
    this.etag = response.headers.get("ETag");
    (this.standalone ? this.element : this.element).replaceChildren(content);
    return true;
  }

  // Re-reads what others may have changed (description, images, comments, history), keeping the
  // edit form as the person left it: their unsaved edits stay, and its version stays the one they read.
  // Asked with the last read's ETag: the echo of the panel's own change, or an event that changed
  // nothing it shows, answers 304 and leaves the panel as it is. Refreshes take turns, so that the
  // second of two (a comment's own, then its event's) asks with the tag the first one read.
  refresh() {
    const next = this.refreshing.then(() => this.reread()).catch(() => undefined);
    this.refreshing = next;
    return next;
  }

  async reread() {
    if (!this.isOpen) return;
    const { response, content } = await fragment(this.url(), { etag: this.etag });
    if (response.status === 304) return;
    if (response.status !== 200) {
      this.showGone();
      return;
    }
    this.etag = response.headers.get("ETag");
    for (const section of content.querySelectorAll("[data-panel-section]")) {
      const current = this.element.querySelector(`[data-panel-section="${section.dataset.panelSection}"]`);
      if (current) current.replaceWith(section);
    }
  }

  showGone() {
    this.etag = null;
    const gone = document.createElement("p");
    gone.className = "message message-error";
    gone.setAttribute("role", "alert");
    gone.textContent = `${this.key} was deleted or is no longer visible to you.`;
    const close = document.createElement("button");
    close.type = "button";
    close.className = "secondary";
    close.dataset.panelClose = "";
    close.textContent = "Close";
    this.element.replaceChildren(gone, close);
    announce(gone.textContent, "error");
  }

  close() {
    if (this.standalone) {
      window.location.assign(`/board/${this.projectKey}/`);
      return;
    }
    this.element.hidden = true;
    this.element.replaceChildren();
    this.key = null;
    this.etag = null;
    if (this.opener && document.contains(this.opener)) this.opener.focus();
    else document.getElementById("main").focus();
  }

  async onSubmit(event) {
    const form = event.target;
    if (form.matches("[data-ticket-form]")) {
      event.preventDefault();
      await this.save(form);
    } else if (form.matches("[data-comment-form]")) {
      event.preventDefault();
      await this.comment(form);
    } else if (form.matches("[data-image-form]")) {
      event.preventDefault();
    }
  }

  async save(form) {
    const changes = changedFields(form);
    if (Object.keys(changes).length === 0) {
      announce(`Nothing to save on ${this.key}.`);
      return;
    }
    try {
      await api("PATCH", `tickets/${this.ticketId}/`, { json: changes, ifMatch: form.dataset.version });
      announce(`${this.key} saved.`, "success");
      await this.load();
    } catch (error) {
      announce(explain(error, this.key), "error");
      if (error instanceof ApiError && (error.status === 412 || error.status === 404)) await this.load();
    }
  }

  async comment(form) {
    try {
      await api("POST", `tickets/${this.ticketId}/comments/`, { json: { body: form.elements.body.value } });
      form.reset();
      announce(`Comment added to ${this.key}.`, "success");
      await this.refresh();
    } catch (error) {
      announce(explain(error, `Comment on ${this.key}`), "error");
    }
  }

  onChange(event) {
    if (event.target.matches("[data-image-form] input[type=file]") && event.target.files.length) {
      this.upload(event.target.files[0]).then(() => event.target.form.reset());
    }
  }

  onPaste(event) {
    if (!this.isOpen || !this.element.querySelector("[data-image-form]")) return;
    const file = Array.from(event.clipboardData ? event.clipboardData.files : []).find((item) =>
      item.type.startsWith("image/"),
    );
    if (!file) return;
    event.preventDefault();
    this.upload(file);
  }

  async upload(file) {
    const form = new FormData();
    form.append("image", file, file.name || "pasted-image.png");
    try {
      await api("POST", `tickets/${this.ticketId}/images/`, { form });
      announce(`Image uploaded to ${this.key}; its thumbnail appears when it is ready.`, "success");
      await this.refresh();
    } catch (error) {
      announce(explain(error, `Image for ${this.key}`), "error");
    }
  }
}

// The project list's "New project" form: created through the API (POST projects/), then opened.
import { api, explain } from "./api.js";
import { announce } from "./messages.js";

const form = document.getElementById("new-project");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = new FormData(form);
  const key = String(data.get("key")).trim().toUpperCase();
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const project = await api("POST", "projects/", {
      json: { key, name: String(data.get("name")).trim(), description: String(data.get("description")) },
    });
    window.location.assign(`/board/${encodeURIComponent(project.key)}/`);
  } catch (error) {
    announce(explain(error, `Project ${key} was not created`), "error");
    button.disabled = false;
  }
});

// The members page: every change calls the members API with the session (the same checks as any
// client: admins only, the last admin stays), then the page is read again from the server.
import { api, explain } from "./api.js";
import { announce } from "./messages.js";

const MESSAGE_KEY = "hopla-members-message";
const section = document.getElementById("members");
const project = section.dataset.projectKey;
const projectPath = `projects/${encodeURIComponent(project)}`;

// What the last change did, said once the page has been read again.
const said = sessionStorage.getItem(MESSAGE_KEY);
if (said) {
  sessionStorage.removeItem(MESSAGE_KEY);
  announce(said, "success");
}

// Runs `write`; on success reloads the page with the sentence `success(answer)`, else says why not.
async function change(write, success, refused) {
  let answer;
  try {
    answer = await write();
  } catch (error) {
    announce(explain(error, refused), "error");
    return false;
  }
  sessionStorage.setItem(MESSAGE_KEY, success(answer));
  window.location.reload();
  return true;
}

document.addEventListener("change", async (event) => {
  const select = event.target.closest("select[data-action=role]");
  if (!select) return;
  const row = select.closest("tr");
  const name = row.cells[0].textContent;
  const changed = await change(
    () => api("PATCH", `${projectPath}/members/${row.dataset.member}/`, { json: { role: select.value } }),
    () => `${name} is now ${select.value}.`,
    `The role of ${name} was not changed`,
  );
  if (!changed) select.value = select.querySelector("option[selected]").value;
});

document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  const row = button.closest("tr");
  if (button.dataset.action === "remove" && "leave" in button.dataset) {
    try {
      await api("DELETE", `${projectPath}/members/${row.dataset.member}/`);
      window.location.assign("/board/");
    } catch (error) {
      announce(explain(error, `You did not leave ${project}`), "error");
    }
  } else if (button.dataset.action === "remove") {
    const name = row.cells[0].textContent;
    await change(
      () => api("DELETE", `${projectPath}/members/${row.dataset.member}/`),
      () => `${name} was removed from ${project}.`,
      `${name} was not removed`,
    );
  } else if (button.dataset.action === "revoke") {
    const email = row.cells[0].textContent;
    await change(
      () => api("DELETE", `${projectPath}/invitations/${row.dataset.invitation}/`),
      () => `The invitation of ${email} was revoked.`,
      `The invitation of ${email} was not revoked`,
    );
  }
});

const addForm = document.getElementById("add-member");
if (addForm) {
  addForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(addForm);
    const email = String(data.get("user")).trim();
    await change(
      () => api("POST", `${projectPath}/members/`, { json: { user: email, role: data.get("role") } }),
      // A membership names its user; an invitation (no account with that email) its email.
      (answer) => (answer.user ? `${email} was added as ${answer.role}.` : `${email} was invited as ${answer.role}; an email is on its way.`),
      `${email} was not added`,
    );
  });
}

// A ticket's own page: the panel's forms, without the board around it.
import { Panel } from "./panel.js";

const page = document.getElementById("ticket-page");
if (page) new Panel(page, { projectKey: page.dataset.projectKey, standalone: true });

// The page's message area (role=status): what happened, or why it did not.

export function announce(text, kind = "info") {
  const box = document.getElementById("messages");
  if (!box) return;
  const message = document.createElement("p");
  message.className = `message message-${kind}`;
  message.textContent = text;
  box.replaceChildren(message);
}

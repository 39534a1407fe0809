// The event stream (SPEC §7) for a page: authenticated by the session cookie, resumed after the last
// event seen whenever it (re)connects, so a dropped connection misses nothing; the indicator says
// whether the page is live.

const MAX_BACKOFF_MS = 5000;

export function connectLive({ lastSeq, indicator, onEvent, onSessionEnded }) {
  let seq = lastSeq;
  let attempts = 0;

  function show(state, text) {
    indicator.dataset.state = state;
    indicator.textContent = text;
  }

  function open() {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${window.location.host}/ws/v1/events/`);
    socket.addEventListener("message", (message) => {
      const payload = JSON.parse(message.data);
      if (payload.type === "hello") {
        socket.send(JSON.stringify({ action: "resume", after_seq: seq }));
        attempts = 0;
        show("live", "Live");
      } else if (payload.type === "notification") {
        window.dispatchEvent(new CustomEvent("hopla:notification", { detail: payload.notification }));
      } else if (payload.type === "event") {
        seq = Math.max(seq, payload.event.seq);
        onEvent(payload.event);
      }
    });
    socket.addEventListener("close", (closed) => {
      if (closed.code === 4401) {
        show("offline", "Signed out");
        onSessionEnded();
        return;
      }
      attempts += 1;
      show("reconnecting", "Reconnecting…");
      const delay = Math.min(250 * 2 ** (attempts - 1), MAX_BACKOFF_MS);
      window.setTimeout(open, delay);
    });
  }

  open();
}

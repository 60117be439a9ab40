// The agent console: polls its JSON API and drives the advisor's actions.
// Plain JavaScript, no build step. Text from the API is only ever set as textContent.
(function () {
  "use strict";

  var root = document.getElementById("console");
  if (!root) return;
  var api = root.getAttribute("data-api");
  var QUEUE_EVERY_MS = 2000;
  var HANDOFF_EVERY_MS = 1500;
  var TIME = { timeZone: "Europe/Paris", hour: "2-digit", minute: "2-digit" };
  var DATE_TIME = {
    timeZone: "Europe/Paris", weekday: "short", day: "numeric", month: "short",
    hour: "2-digit", minute: "2-digit",
  };

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function showError(id, message) {
    var box = document.getElementById(id);
    if (!box) return;
    box.textContent = message || "";
    box.hidden = !message;
  }

  function toLogin() {
    window.location.assign("/agent/login?next=" + encodeURIComponent(window.location.pathname));
  }

  // GET or POST JSON; resolves to the body, rejects with a French message.
  function call(method, url, body) {
    var options = { method: method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(url, options).then(
      function (response) {
        if (response.status === 401) {
          toLogin();
          return Promise.reject("Votre session a expiré : reconnectez-vous.");
        }
        return response.json().then(
          function (data) {
            if (!response.ok) {
              return Promise.reject((data && data.error && data.error.message) || "La demande a échoué.");
            }
            return data;
          },
          function () { return Promise.reject("Réponse illisible du serveur."); }
        );
      },
      function () {
        return Promise.reject("La console ne joint plus le serveur : nouvel essai dans quelques secondes.");
      }
    );
  }

  function poll(every, tick) {
    var timer = null;
    function run() {
      tick().catch(function () { /* the error is already shown */ }).then(function () {
        timer = window.setTimeout(run, every);
      });
    }
    run();
    return function now() {
      window.clearTimeout(timer);
      run();
    };
  }

  // ---- Queue page -------------------------------------------------------------------

  function handoffLink(item) {
    var link = el("a", null, item.id);
    link.href = "/agent/handoffs/" + encodeURIComponent(item.id);
    return link;
  }

  function fillTable(id, items, columns) {
    var body = document.querySelector("#" + id + " tbody");
    var rows = document.createDocumentFragment();
    if (!items.length) {
      var row = el("tr");
      var cell = el("td", "empty", "Aucune demande.");
      cell.colSpan = columns.length;
      row.appendChild(cell);
      rows.appendChild(row);
    }
    items.forEach(function (item) {
      var row = el("tr");
      row.setAttribute("data-handoff", item.id);
      columns.forEach(function (column) {
        var cell = el("td");
        var value = column(item);
        if (value instanceof Node) cell.appendChild(value);
        else cell.textContent = value === null || value === undefined ? "—" : value;
        row.appendChild(cell);
      });
      rows.appendChild(row);
    });
    body.replaceChildren(rows);
    var count = document.getElementById("count-" + id);
    if (count) count.textContent = String(items.length);
  }

  function when(iso) {
    return iso ? new Date(iso).toLocaleString("fr-FR", DATE_TIME) : "—";
  }

  function renderQueue(data) {
    var reason = function (item) { return item.reason_text; };
    var company = function (item) { return item.company || "Non identifiée"; };
    var waited = function (item) { return item.waiting_text; };
    var agent = function (item) { return item.agent; };
    fillTable("waiting", data.waiting, [handoffLink, reason, company, waited]);
    fillTable("active", data.active, [handoffLink, reason, company, agent, waited]);
    fillTable("tickets", data.tickets, [handoffLink, reason, company, function (item) { return when(item.created_at); }, waited]);
    fillTable("closed", data.closed, [handoffLink, reason, agent, function (item) { return item.outcome_text; }, waited]);
    var figures = data.figures;
    document.getElementById("figure-handed-back").textContent = String(figures.by_outcome.handed_back);
    document.getElementById("figure-closed").textContent = String(figures.by_outcome.closed_by_advisor);
    document.getElementById("figure-open").textContent = String(figures.by_outcome.open);
    document.getElementById("figure-median").textContent = figures.median_wait_text || "—";
    document.getElementById("figure-left").textContent = String(figures.by_outcome.left);
    document.getElementById("figure-satisfaction").textContent = figures.satisfaction_text || "—";
  }

  function queuePage() {
    poll(QUEUE_EVERY_MS, function () {
      return call("GET", api).then(
        function (data) { showError("console-error", ""); renderQueue(data); },
        function (message) { showError("console-error", message); throw message; }
      );
    });
  }

  // ---- Conversation page -----------------------------------------------------------

  var WHO = { user: "Client", bot: "Assistant virtuel" };

  function renderTranscript(messages) {
    var box = document.getElementById("transcript");
    var atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    var nodes = document.createDocumentFragment();
    messages.forEach(function (message) {
      var node = el("div", "message " + message.kind);
      var who = message.kind === "advisor" ? "Conseiller : " + message.advisor : WHO[message.kind];
      var label = el("span", "who", who);
      if (message.timestamp) {
        label.textContent += " · " + new Date(message.timestamp).toLocaleTimeString("fr-FR", TIME);
      }
      node.appendChild(label);
      node.appendChild(el("span", "text", message.text));
      nodes.appendChild(node);
    });
    box.replaceChildren(nodes);
    if (atBottom) box.scrollTop = box.scrollHeight;
  }

  function renderHandoff(handoff) {
    document.getElementById("status-text").textContent =
      handoff.status_text + (handoff.outcome_text ? " (" + handoff.outcome_text + ")" : "");
    document.getElementById("waiting-text").textContent = handoff.waiting_text;
    document.getElementById("agent-name").textContent = handoff.agent || "aucun";
    var open = handoff.status === "waiting" || handoff.status === "ticket";
    var mine = handoff.status === "active" && handoff.mine;
    document.getElementById("take").disabled = !open;
    ["handback", "close", "reply-send", "reply-text"].forEach(function (id) {
      document.getElementById(id).disabled = !mine;
    });
    var text = document.getElementById("reply-text");
    text.placeholder = mine
      ? "Votre message au client"
      : handoff.status === "active"
        ? "Cette conversation est prise en charge par " + handoff.agent + "."
        : handoff.status === "closed"
          ? "Cette conversation est close."
          : "Prenez la conversation en charge pour répondre.";
  }

  function handoffPage() {
    var lastTranscript = "";
    var refresh = poll(HANDOFF_EVERY_MS, function () {
      return call("GET", api).then(
        function (data) {
          showError("console-error", "");
          renderHandoff(data.handoff);
          showError("transcript-error", data.transcript_error);
          var serialised = JSON.stringify(data.transcript);
          if (!data.transcript_error && serialised !== lastTranscript) {
            lastTranscript = serialised;
            renderTranscript(data.transcript);
          }
        },
        function (message) { showError("console-error", message); throw message; }
      );
    });

    function act(button, action, body) {
      button.disabled = true;
      return call("POST", api + "/" + action, body).then(
        function () { showError("console-error", ""); refresh(); },
        function (message) { showError("console-error", message); refresh(); throw message; }
      );
    }

    document.getElementById("take").addEventListener("click", function (event) {
      act(event.currentTarget, "take").catch(function () {});
    });
    document.getElementById("handback").addEventListener("click", function (event) {
      act(event.currentTarget, "handback").catch(function () {});
    });
    document.getElementById("close").addEventListener("click", function (event) {
      act(event.currentTarget, "close").catch(function () {});
    });
    document.getElementById("reply-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var text = document.getElementById("reply-text");
      var value = text.value.trim();
      if (!value) return;
      act(document.getElementById("reply-send"), "reply", { text: value }).then(
        function () { text.value = ""; text.focus(); },
        function () {}
      );
    });
    document.getElementById("reply-text").addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        document.getElementById("reply-form").requestSubmit();
      }
    });
  }

  if (root.getAttribute("data-page") === "queue") queuePage();
  else handoffPage();
})();

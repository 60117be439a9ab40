/*
 * Chat widget of the "Espace client entreprise" assistant.
 *
 * Embed with one tag (the web process serves this folder at /widget/):
 *   <script src="https://WEB/widget/widget.js" data-rasa-url="https://RASA" defer></script>
 * Options (data-* attributes of that tag):
 *   data-rasa-url    the Rasa server (default http://localhost:5005)
 *   data-upload-url  the upload store (default: /uploads on this script's origin)
 *   data-transport   "auto" (socket.io; REST while it cannot connect, socket.io tried again
 *                    in the background) or "rest"
 *   data-open        "true" to open the panel on the first visit
 * Elements of the page with a `data-ecw-open` attribute open the panel when clicked;
 * window.EspaceClientWidget has open(), close() and newConversation().
 *
 * Plain JavaScript, no build step. The widget lives in a shadow root, so the page's
 * styles do not reach it. Text from the user or the assistant only ever enters the page
 * as text nodes (links are built with createElement); the conversation (session id and
 * the messages shown, never the files) is kept in localStorage for a week.
 */
(function () {
  "use strict";

  if (window.EspaceClientWidget) return; // embedded twice

  var script = document.currentScript || document.querySelector('script[src*="/widget/widget.js"]');
  var BASE = new URL(".", script.src).href;
  var config = {
    rasaUrl: (script.dataset.rasaUrl || "http://localhost:5005").replace(/\/+$/, ""),
    uploadUrl: script.dataset.uploadUrl || new URL(script.src).origin + "/uploads",
    transport: script.dataset.transport === "rest" ? "rest" : "auto",
    open: script.dataset.open === "true",
  };

  var SOCKET_IO = "vendor/socket.io-4.8.4.min.js";
  var CONNECT_TIMEOUT = 6000; // ms without socket.io before the REST channel is used
  var REPLY_TIMEOUT = 60000; // ms after which the typing indicator gives up
  var MAX_BYTES = 10 * 1024 * 1024; // as the assistant's own check (10 Mo)
  var MAX_FILES = 2; // the front and the back of a card
  var MAX_HISTORY = 300;
  var HISTORY_DAYS = 7; // as Rasa's session_expiration_time
  var FILE_TYPES = { "image/png": true, "image/jpeg": true, "application/pdf": true };
  var EXTENSIONS = {
    png: "image/png",
    jpg: "image/jpeg",
    jpeg: "image/jpeg",
    pdf: "application/pdf",
  };
  var ACCEPT = ".png,.jpg,.jpeg,.pdf,image/png,image/jpeg,application/pdf";
  var UNAVAILABLE =
    "L'assistant est momentanément indisponible. Veuillez réessayer dans quelques instants.";
  var INTRO = {
    from: "bot",
    text:
      "Bonjour ! Je suis l'assistant de l'espace client entreprise. Je vous guide pas à pas " +
      "pour créer votre espace : votre entreprise, vos coordonnées, votre pièce d'identité " +
      "et les conditions d'utilisation.",
    buttons: [{ title: "Créer mon espace client", payload: "/start_registration" }],
  };

  // ---- Storage: one key per Rasa server, ignored when the browser refuses it ----

  var PREFIX = "espace-client-widget:" + config.rasaUrl + ":";
  var storage = {
    get: function (key) {
      try {
        return window.localStorage.getItem(PREFIX + key);
      } catch (error) {
        return null;
      }
    },
    set: function (key, value) {
      try {
        window.localStorage.setItem(PREFIX + key, value);
      } catch (error) {
        /* private browsing or full: the conversation is not kept */
      }
    },
  };

  // A web conversation id, as the Rasa server accepts it: "web-" and 128 random bits.
  var SESSION_ID = /^web-[0-9a-f]{32}$/;

  function newSessionId() {
    var bytes = window.crypto.getRandomValues(new Uint8Array(16));
    return (
      "web-" +
      Array.prototype.map
        .call(bytes, function (byte) {
          return byte.toString(16).padStart(2, "0");
        })
        .join("")
    );
  }

  function loadState() {
    var session = storage.get("session");
    var saved = null;
    try {
      saved = JSON.parse(storage.get("history") || "null");
    } catch (error) {
      saved = null;
    }
    var fresh =
      saved &&
      typeof saved.updated === "number" &&
      Date.now() - saved.updated < HISTORY_DAYS * 86400000;
    if (!session || !SESSION_ID.test(session) || !fresh || !Array.isArray(saved.entries)) {
      return { session: newSessionId(), entries: [] };
    }
    return { session: session, entries: saved.entries.filter(isEntry) };
  }

  function isEntry(entry) {
    return entry && typeof entry === "object" && /^(bot|user|advisor|notice)$/.test(entry.from);
  }

  var state = loadState();
  storage.set("session", state.session);

  function saveHistory() {
    if (state.entries.length > MAX_HISTORY) state.entries = state.entries.slice(-MAX_HISTORY);
    storage.set("history", JSON.stringify({ updated: Date.now(), entries: state.entries }));
  }

  // ---- DOM helpers: text only ever goes in through text nodes ----

  function el(tag, attributes, children) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      var value = attributes[name];
      if (value === null || value === undefined || value === false) return;
      if (name === "text") node.textContent = value;
      else if (name === "class") node.className = value;
      else node.setAttribute(name, value === true ? "" : value);
    });
    (children || []).forEach(function (child) {
      if (child !== null && child !== undefined) node.append(child);
    });
    return node;
  }

  var SVG = "http://www.w3.org/2000/svg";
  function icon(path) {
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var shape = document.createElementNS(SVG, "path");
    shape.setAttribute("d", path);
    svg.append(shape);
    return svg;
  }
  var ICONS = {
    chat: "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z",
    close: "M6 6l12 12M18 6L6 18",
    send: "M3 20l18-8L3 4v6l12 2-12 2z",
    clip: "M16.5 6.5l-7.8 7.8a2 2 0 0 0 2.8 2.8l7.8-7.8a4 4 0 0 0-5.7-5.7L5.8 11.4a6 6 0 0 0 8.5 8.5l6.4-6.4",
    file: "M6 2h8l6 6v14H6zM14 2v6h6",
    restart: "M4 12a8 8 0 1 0 2.3-5.7M4 4v5h5",
  };

  var URL_PATTERN = /https?:\/\/[^\s<>"]+/g;
  var TRAILING = /[.,;:!?»)\]'’]+$/;

  /** The text as nodes: http(s) addresses become links, the rest stays text. */
  function richText(text) {
    text = String(text);
    var fragment = document.createDocumentFragment();
    var last = 0;
    text.replace(URL_PATTERN, function (found, offset) {
      var address = found.replace(TRAILING, "");
      var url;
      try {
        url = new URL(address);
      } catch (error) {
        return found;
      }
      if (url.protocol !== "http:" && url.protocol !== "https:") return found;
      fragment.append(document.createTextNode(text.slice(last, offset)));
      fragment.append(
        el("a", { href: url.href, target: "_blank", rel: "noopener noreferrer" }, [
          address,
          el("span", { class: "ecw-sr", text: " (nouvel onglet)" }),
        ]),
      );
      last = offset + address.length;
      return found;
    });
    fragment.append(document.createTextNode(text.slice(last)));
    return fragment;
  }

  function fileSize(bytes) {
    var format = new Intl.NumberFormat("fr-FR", { maximumFractionDigits: 1 });
    if (bytes < 1024 * 1024) return format.format(Math.max(1, Math.round(bytes / 1024))) + " ko";
    return format.format(bytes / (1024 * 1024)) + " Mo";
  }

  // ---- The widget's elements ----

  var host = el("div", { id: "espace-client-widget", "data-transport": "connecting" });
  var root = host.attachShadow({ mode: "open" });
  var stylesheet = el("link", { rel: "stylesheet", href: BASE + "widget.css" });

  var launcherLabel = el("span", { class: "ecw-launcher-label", text: "Une question ? Discutons" });
  var launcher = el(
    "button",
    {
      class: "ecw-launcher",
      type: "button",
      "aria-expanded": "false",
      "aria-controls": "ecw-panel",
      "aria-label": "Ouvrir la discussion avec l'assistant",
    },
    [icon(ICONS.chat), launcherLabel],
  );
  var newButton = el(
    "button",
    {
      class: "ecw-new",
      type: "button",
      "aria-label": "Nouvelle conversation",
      title: "Nouvelle conversation",
    },
    [icon(ICONS.restart)],
  );
  var closeButton = el(
    "button",
    { class: "ecw-close", type: "button", "aria-label": "Fermer la discussion" },
    [icon(ICONS.close)],
  );
  var log = el("div", {
    class: "ecw-log",
    role: "log",
    "aria-live": "polite",
    "aria-relevant": "additions",
    "aria-label": "Messages de la conversation",
    tabindex: "0",
  });
  var typing = el("div", { class: "ecw-typing", role: "status", hidden: true }, [
    el("span", { class: "ecw-dots", "aria-hidden": "true" }, [el("i"), el("i"), el("i")]),
    el("span", { class: "ecw-sr", text: "L'assistant écrit…" }),
  ]);
  var fileInput = el("input", {
    class: "ecw-file-input",
    type: "file",
    accept: ACCEPT,
    multiple: true,
    hidden: true,
    tabindex: "-1",
  });
  var attachButton = el(
    "button",
    {
      class: "ecw-attach",
      type: "button",
      "aria-label": "Joindre un fichier : PNG, JPEG ou PDF, 10 Mo au plus",
      title: "Joindre un fichier (PNG, JPEG ou PDF, 10 Mo au plus)",
    },
    [icon(ICONS.clip)],
  );
  var input = el("input", {
    id: "ecw-input",
    class: "ecw-input",
    type: "text",
    autocomplete: "off",
    maxlength: "1000",
    enterkeyhint: "send",
    placeholder: "Écrivez votre message…",
  });
  var sendButton = el("button", { class: "ecw-send", type: "submit", "aria-label": "Envoyer" }, [
    icon(ICONS.send),
  ]);
  var composer = el("form", { class: "ecw-composer" }, [
    fileInput,
    attachButton,
    el("label", { class: "ecw-sr", for: "ecw-input", text: "Votre message" }),
    input,
    sendButton,
  ]);
  var dropZone = el("div", { class: "ecw-drop", hidden: true, "aria-hidden": "true" }, [
    el("p", { text: "Déposez votre fichier ici" }),
    el("p", { class: "ecw-drop-hint", text: "PNG, JPEG ou PDF, 10 Mo au plus" }),
  ]);
  var panel = el(
    "section",
    {
      id: "ecw-panel",
      class: "ecw-panel",
      role: "dialog",
      "aria-labelledby": "ecw-title",
      hidden: true,
    },
    [
      el("header", { class: "ecw-header" }, [
        el("div", { class: "ecw-heading" }, [
          el("h2", { id: "ecw-title", text: "Assistant Espace client" }),
          el("p", { text: "Création de votre espace client entreprise" }),
        ]),
        newButton,
        closeButton,
      ]),
      log,
      typing,
      composer,
      dropZone,
    ],
  );
  var container = el("div", { class: "ecw", hidden: true }, [launcher, panel]);
  root.append(stylesheet, container);
  // Shown once styled (or unstyled if the stylesheet cannot load: still usable). Until
  // then nothing is laid out: the conversation restored after a reload is scrolled to its
  // latest message only now.
  function reveal() {
    container.hidden = false;
    scrollToEnd();
  }
  stylesheet.addEventListener("load", reveal);
  stylesheet.addEventListener("error", reveal);

  // ---- Rendering the conversation ----

  /** Show the latest message; again at the next frame, once the new rows are laid out. */
  function scrollToEnd() {
    log.scrollTop = log.scrollHeight;
    window.requestAnimationFrame(function () {
      log.scrollTop = log.scrollHeight;
    });
  }

  function speaker(from) {
    return from === "user" ? "Vous : " : from === "bot" ? "L'assistant : " : "";
  }

  /** Who wrote an advisor's message (sent through the agent console). */
  function advisorLabel(entry) {
    return el("span", { class: "ecw-author", text: entry.advisor + " · conseiller" });
  }

  // What the history does not keep: each entry's DOM row, and the previews of the files
  // sent in this page (object URLs of the user's own files, gone with the page).
  var rows = new WeakMap();
  var previews = new WeakMap();

  function fileCard(file) {
    var preview = previews.get(file)
      ? el("img", { class: "ecw-thumb", src: previews.get(file), alt: "" })
      : el("span", { class: "ecw-file-icon" }, [icon(ICONS.file)]);
    return el("div", { class: "ecw-file" }, [
      preview,
      el("span", { class: "ecw-file-text" }, [
        el("span", { class: "ecw-file-name", text: file.name }),
        el("span", { class: "ecw-file-size", text: fileSize(file.size || 0) }),
      ]),
    ]);
  }

  /** The DOM of one entry of the history; quick replies only on the last unanswered one. */
  function renderEntry(entry) {
    var bubble = el("div", { class: "ecw-bubble" }, [
      el("span", { class: "ecw-sr", text: speaker(entry.from) }),
    ]);
    if (entry.from === "advisor") bubble.prepend(advisorLabel(entry));
    if (entry.text) bubble.append(richText(entry.text));
    (entry.files || []).forEach(function (file) {
      bubble.append(fileCard(file));
    });
    var row = el("div", { class: "ecw-row ecw-" + entry.from }, [bubble]);
    if (entry.buttons && entry.buttons.length && !entry.answered) {
      var group = el("div", {
        class: "ecw-replies",
        role: "group",
        "aria-label": "Réponses proposées",
      });
      entry.buttons.forEach(function (button) {
        var choice = el("button", { type: "button", class: "ecw-reply", text: button.title });
        choice.addEventListener("click", function () {
          sendText(button.title, button.payload);
          input.focus();
        });
        group.append(choice);
      });
      row.append(group);
    }
    rows.set(entry, row);
    return row;
  }

  /** Show an entry; `keep` false: not in the history (yet). Its row. */
  function add(entry, keep) {
    var row = renderEntry(entry);
    log.append(row);
    if (keep !== false) {
      state.entries.push(entry);
      saveHistory();
    }
    scrollToEnd();
    return row;
  }

  function notice(text) {
    return add({ from: "notice", text: text });
  }

  /** Quick replies are answered by whatever the user sends next. */
  function closeReplies() {
    state.entries.forEach(function (entry) {
      if (entry.buttons && !entry.answered) {
        entry.answered = true;
        var row = rows.get(entry);
        var group = row && row.querySelector(".ecw-replies");
        if (group) group.remove();
      }
    });
  }

  function renderHistory() {
    log.replaceChildren();
    if (!state.entries.length) state.entries.push(JSON.parse(JSON.stringify(INTRO)));
    state.entries.forEach(function (entry) {
      log.append(renderEntry(entry));
    });
    saveHistory();
    scrollToEnd();
  }

  var replyTimer = null;
  function showTyping() {
    typing.hidden = false;
    scrollToEnd();
    clearTimeout(replyTimer);
    replyTimer = setTimeout(hideTyping, REPLY_TIMEOUT);
  }
  function hideTyping() {
    typing.hidden = true;
    clearTimeout(replyTimer);
  }

  var unread = false;
  function setUnread(value) {
    unread = value;
    launcher.classList.toggle("ecw-unread", value);
    launcher.setAttribute(
      "aria-label",
      value
        ? "Ouvrir la discussion avec l'assistant (nouveau message)"
        : "Ouvrir la discussion avec l'assistant",
    );
  }

  /** One message of the assistant or of an advisor, from either channel, as
   * {text, buttons, advisor}. */
  function receive(message) {
    hideTyping();
    if (message.buttons && message.buttons.length) closeReplies();
    if (message.advisor) {
      add({ from: "advisor", text: message.text, advisor: message.advisor });
    } else {
      add({ from: "bot", text: message.text, buttons: message.buttons });
    }
    if (panel.hidden) setUnread(true);
  }

  function fromSocket(data) {
    data = data || {};
    var buttons = (data.quick_replies || data.buttons || []).map(button);
    var text = data.text || "";
    if (!text && data.attachment && data.attachment.payload && data.attachment.payload.src) {
      text = data.attachment.payload.src;
    }
    var advisor = typeof data.advisor === "string" ? data.advisor.slice(0, 80) : null;
    return { text: text, buttons: buttons.filter(Boolean), advisor: advisor };
  }

  function button(item) {
    if (!item || typeof item.title !== "string" || typeof item.payload !== "string") return null;
    return { title: item.title, payload: item.payload };
  }

  // ---- Talking to Rasa: socket.io, or the REST channel while socket.io is unreachable ----
  //
  // socket.io comes first: it is the only way an advisor's messages reach the person. When it
  // cannot connect within CONNECT_TIMEOUT (a cold start of Rasa, a replica or the proxy
  // restarting), the REST channel carries the messages, and socket.io keeps trying in the
  // background (socket.io's own backoff, 1 s doubling up to RETRY_MAX); once it connects
  // again it asks for the same session and takes over. Each message goes one way only, so
  // an answer never comes twice: REST answers come in the response to their request,
  // socket.io answers to the session's room.

  var RETRY_MIN = 1000;
  var RETRY_MAX = 20000;
  var INTERRUPTED =
    "La connexion a été interrompue. Renvoyez votre message si vous n'avez pas eu de réponse.";

  var channel = {
    mode: "connecting", // then "socketio" or "rest", and back to "socketio" when it can
    socket: null,
    confirmed: false, // socket.io: the session's room is joined
    awaiting: false, // socket.io: a message was sent and no answer came yet
    queue: [], // messages waiting for the socket (CONNECT_TIMEOUT at most, then REST)
    fallbackTimer: null,
    retryTimer: null,
    retries: 0,
    rest: Promise.resolve(), // the REST requests, one after the other
    restPending: 0,
  };

  function setMode(mode) {
    channel.mode = mode;
    host.dataset.transport = mode;
  }

  function sendToRasa(message, metadata) {
    showTyping();
    deliver({ message: message, metadata: metadata, session: state.session });
  }

  /** Send a message by the channel of the moment, or keep it until there is one. */
  function deliver(item) {
    if (item.session !== state.session) return; // a new conversation began meanwhile
    if (channel.mode === "socketio" && channel.confirmed) {
      // Back from REST: its pending answers first, so that answers keep their order.
      if (channel.restPending) {
        channel.rest.then(function () {
          deliver(item);
        });
        return;
      }
      emit(item);
    } else if (channel.mode === "rest") {
      postRest(item);
    } else {
      channel.queue.push(item);
      fallBackLater();
    }
  }

  function emit(item) {
    var data = { message: item.message, session_id: item.session };
    if (item.metadata) data.metadata = item.metadata;
    channel.awaiting = true;
    channel.socket.emit("user_uttered", data);
  }

  function flushQueue() {
    var waiting = channel.queue;
    channel.queue = [];
    waiting.forEach(deliver);
  }

  /** The REST channel takes over if socket.io is not there within CONNECT_TIMEOUT. */
  function fallBackLater() {
    if (channel.fallbackTimer || channel.mode === "rest") return;
    channel.fallbackTimer = setTimeout(fallBack, CONNECT_TIMEOUT);
  }

  function fallBack() {
    clearTimeout(channel.fallbackTimer);
    channel.fallbackTimer = null;
    if (channel.confirmed) return;
    setMode("rest");
    flushQueue();
  }

  function postRest(item) {
    channel.restPending += 1;
    // One request at a time, so that answers come in the order of the questions.
    channel.rest = channel.rest.then(function () {
      var body = { sender: item.session, message: item.message };
      if (item.metadata) body.metadata = item.metadata;
      return fetch(config.rasaUrl + "/webhooks/rest/webhook", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      })
        .then(function (response) {
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.json();
        })
        .then(function (replies) {
          if (item.session !== state.session) return; // a new conversation began meanwhile
          hideTyping();
          (Array.isArray(replies) ? replies : []).forEach(function (reply) {
            var buttons = (reply.buttons || []).map(button).filter(Boolean);
            var text = reply.text || reply.image || "";
            if (!text && !buttons.length) return;
            var parts = String(text).split("\n\n");
            parts.forEach(function (part, index) {
              receive({ text: part, buttons: index === parts.length - 1 ? buttons : [] });
            });
          });
        })
        .catch(function () {
          hideTyping();
          notice(UNAVAILABLE);
        })
        .then(function () {
          channel.restPending -= 1;
        });
    });
    return channel.rest;
  }

  /** Run `action` after a backoff delay: 1 s doubling up to RETRY_MAX, ± 50 %. */
  function retryLater(action) {
    clearTimeout(channel.retryTimer);
    var delay = Math.min(RETRY_MAX, RETRY_MIN * Math.pow(2, channel.retries));
    channel.retries += 1;
    channel.retryTimer = setTimeout(action, delay * (0.5 + Math.random()));
  }

  var loadedIo = null;
  function loadSocketIo() {
    if (loadedIo) return Promise.resolve(loadedIo);
    return new Promise(function (resolve, reject) {
      var previous = window.io;
      var tag = document.createElement("script");
      tag.src = BASE + SOCKET_IO;
      tag.async = true;
      tag.onload = function () {
        var io = window.io;
        // Leave the page's own socket.io client (if any) where it was.
        if (previous === undefined) delete window.io;
        else window.io = previous;
        if (typeof io !== "function") return reject(new Error("socket.io did not load"));
        loadedIo = io;
        resolve(io);
      };
      tag.onerror = function () {
        tag.remove();
        reject(new Error("socket.io did not load"));
      };
      document.head.append(tag);
    });
  }

  function connect() {
    if (config.transport === "rest") {
      setMode("rest");
      return;
    }
    fallBackLater();
    openSocket();
  }

  function openSocket() {
    loadSocketIo()
      .then(function (io) {
        var socket = io(config.rasaUrl, {
          path: "/socket.io",
          reconnectionDelay: RETRY_MIN,
          reconnectionDelayMax: RETRY_MAX,
        });
        channel.socket = socket;
        socket.on("connect", function () {
          socket.emit("session_request", { session_id: state.session });
        });
        socket.on("session_confirm", function (sessionId) {
          if (sessionId !== state.session) return; // the answer to an older request
          clearTimeout(channel.fallbackTimer);
          channel.fallbackTimer = null;
          channel.confirmed = true;
          channel.retries = 0;
          setMode("socketio");
          flushQueue();
        });
        socket.on("disconnect", function () {
          channel.confirmed = false;
          if (channel.awaiting) {
            // socket.io does not keep what the server sent meanwhile: that answer is lost.
            channel.awaiting = false;
            hideTyping();
            notice(INTERRUPTED);
          }
          if (channel.mode === "socketio") fallBackLater();
          if (!socket.active) retryLater(reconnect);
        });
        socket.on("connect_error", function () {
          // A refusal of the server (not a network error): socket.io does not retry then.
          if (!socket.active) retryLater(reconnect);
        });
        socket.on("bot_uttered", function (data) {
          channel.awaiting = false;
          receive(fromSocket(data));
        });
      })
      .catch(function () {
        if (channel.mode === "connecting") fallBack();
        retryLater(openSocket);
      });
  }

  function reconnect() {
    if (channel.socket && !channel.socket.active) channel.socket.connect();
  }

  // ---- What the user does ----

  function sendText(shown, payload) {
    closeReplies();
    add({ from: "user", text: shown });
    sendToRasa(payload || shown);
  }

  composer.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) {
      input.focus();
      return;
    }
    input.value = "";
    sendText(text);
  });

  function typeOf(file) {
    var extension = (file.name.split(".").pop() || "").toLowerCase();
    if (FILE_TYPES[file.type]) return file.type;
    if (!file.type && EXTENSIONS[extension]) return EXTENSIONS[extension];
    return null;
  }

  /** Why the widget will not send this file, or null. */
  function refusal(file) {
    if (!typeOf(file)) {
      return (
        "Le fichier « " +
        file.name +
        " » n'est pas dans un format accepté : " +
        "envoyez une photo ou un scan au format PNG, JPEG ou PDF."
      );
    }
    if (file.size > MAX_BYTES) {
      return (
        "Le fichier « " +
        file.name +
        " » dépasse la taille maximale de 10 Mo : envoyez une photo moins lourde ou un " +
        "scan en résolution plus basse."
      );
    }
    if (file.size === 0)
      return "Le fichier « " + file.name + " » est vide : choisissez-en un autre.";
    return null;
  }

  function upload(file, onProgress) {
    return new Promise(function (resolve, reject) {
      var request = new XMLHttpRequest();
      request.open("POST", config.uploadUrl);
      request.responseType = "json";
      request.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable) onProgress(event.loaded / event.total);
      });
      request.addEventListener("load", function () {
        var body = request.response;
        if (request.status === 201 && body && typeof body.url === "string") return resolve(body);
        var message = body && body.error && body.error.message;
        reject(new Error(message || "le service d'envoi ne répond pas comme prévu."));
      });
      request.addEventListener("error", function () {
        reject(new Error("la connexion a été interrompue. Vérifiez-la puis réessayez."));
      });
      var form = new FormData();
      form.append("sender_id", state.session);
      form.append("file", file, file.name);
      request.send(form);
    });
  }

  var uploading = false;
  function sendFiles(list) {
    var files = Array.prototype.slice.call(list || []);
    if (!files.length) return;
    if (uploading) {
      notice("Un envoi est déjà en cours : patientez quelques secondes.");
      return;
    }
    if (files.length > MAX_FILES) {
      notice("Envoyez au plus deux fichiers à la fois : le recto et le verso de votre pièce.");
      return;
    }
    var refused = files.map(refusal).filter(Boolean);
    if (refused.length) {
      refused.forEach(notice);
      return;
    }
    closeReplies();
    uploading = true;
    attachButton.disabled = true;
    var entry = {
      from: "user",
      files: files.map(function (file) {
        var sent = { name: file.name, size: file.size };
        if (file.type.indexOf("image/") === 0) previews.set(sent, URL.createObjectURL(file));
        return sent;
      }),
    };
    var row = add(entry, false);
    var progress = el("progress", {
      class: "ecw-progress",
      max: "100",
      value: "0",
      "aria-label": "Envoi du fichier",
    });
    var status = el("span", { class: "ecw-upload-status", text: "Envoi en cours…" });
    row.querySelector(".ecw-bubble").append(progress, status);
    var total = files.reduce(function (sum, file) {
      return sum + file.size;
    }, 0);
    var done = 0;
    var attachments = [];
    files
      .reduce(function (previous, file) {
        return previous.then(function () {
          return upload(file, function (share) {
            var percent = Math.round(((done + share * file.size) / total) * 100);
            progress.value = percent;
            status.textContent = "Envoi en cours… " + percent + " %";
          }).then(function (attachment) {
            done += file.size;
            attachments.push(attachment);
          });
        });
      }, Promise.resolve())
      .then(function () {
        progress.remove();
        status.textContent = files.length > 1 ? "Fichiers envoyés" : "Fichier envoyé";
        state.entries.push(entry);
        saveHistory();
        sendToRasa("/send_document", { attachments: attachments });
      })
      .catch(function (error) {
        row.remove();
        notice(
          "Votre fichier n'a pas pu être envoyé : " + error.message + " Vous pouvez réessayer.",
        );
      })
      .then(function () {
        uploading = false;
        attachButton.disabled = false;
        fileInput.value = "";
      });
  }

  attachButton.addEventListener("click", function () {
    fileInput.click();
  });
  fileInput.addEventListener("change", function () {
    sendFiles(fileInput.files);
  });

  // Drag and drop onto the panel.
  var dragDepth = 0;
  function carriesFiles(event) {
    return (
      event.dataTransfer && Array.prototype.indexOf.call(event.dataTransfer.types, "Files") >= 0
    );
  }
  panel.addEventListener("dragenter", function (event) {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    dragDepth += 1;
    dropZone.hidden = false;
  });
  panel.addEventListener("dragover", function (event) {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
  });
  panel.addEventListener("dragleave", function () {
    dragDepth = Math.max(0, dragDepth - 1);
    if (!dragDepth) dropZone.hidden = true;
  });
  panel.addEventListener("drop", function (event) {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    dragDepth = 0;
    dropZone.hidden = true;
    sendFiles(event.dataTransfer.files);
  });

  /** Open the panel; focus goes to the message field unless `quiet` (page load). */
  function open(quiet) {
    panel.hidden = false;
    container.classList.add("ecw-open");
    launcher.setAttribute("aria-expanded", "true");
    setUnread(false);
    storage.set("open", "1");
    scrollToEnd();
    if (quiet !== true) input.focus();
  }

  function close() {
    panel.hidden = true;
    container.classList.remove("ecw-open");
    launcher.setAttribute("aria-expanded", "false");
    storage.set("open", "0");
    launcher.focus();
  }

  function newConversation() {
    state.session = newSessionId();
    state.entries = [];
    storage.set("session", state.session);
    channel.queue = [];
    channel.awaiting = false;
    hideTyping();
    renderHistory();
    if (channel.socket) {
      channel.confirmed = false;
      if (channel.socket.connected) {
        channel.socket.emit("session_request", { session_id: state.session });
      }
    }
    input.value = "";
    input.focus();
  }

  launcher.addEventListener("click", function () {
    if (panel.hidden) open(false);
    else close();
  });
  closeButton.addEventListener("click", close);
  newButton.addEventListener("click", newConversation);
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") close();
  });
  document.addEventListener("click", function (event) {
    var opener = event.target.closest && event.target.closest("[data-ecw-open]");
    if (opener) {
      event.preventDefault();
      open(false);
    }
  });

  window.EspaceClientWidget = { open: open, close: close, newConversation: newConversation };

  function start() {
    document.body.append(host);
    renderHistory();
    var wasOpen = storage.get("open");
    if (wasOpen === "1" || (wasOpen === null && config.open)) open(true);
    connect();
  }
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();

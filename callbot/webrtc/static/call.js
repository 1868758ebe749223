// The call page: one WebSocket to /call/ws for signalling, one RTCPeerConnection for the audio (standard APIs
// only: current Chromium and Firefox). The page sends its offer once ICE gathering is complete (no trickle).
// ?processing=off turns off echo cancellation, noise suppression and gain control (tests that compare audio).
"use strict";

(() => {
  const callButton = document.getElementById("call");
  const statusLine = document.getElementById("status");
  const captions = document.getElementById("captions");
  const keypad = document.getElementById("keypad");
  const remote = document.getElementById("remote");
  const levelBar = document.getElementById("level-bar");
  const processing = new URLSearchParams(window.location.search).get("processing") !== "off";
  const GATHERING_LIMIT_MS = 5000; // a STUN/TURN server that does not answer must not hold the call back
  const SOUND_LEVEL = 0.01; // RMS above which the bot's audio counts as sound (about -40 dBFS)

  const ENDED = {
    caller: "Appel terminé.",
    bot: "L'assistant a terminé l'appel. Merci de votre appel.",
    shutdown: "Le service s'arrête : l'appel a été interrompu. Merci de rappeler dans quelques minutes.",
    media_timeout: "La liaison audio a été perdue. Vérifiez votre connexion, puis rappelez si besoin.",
  };

  let socket = null;
  let peer = null;
  let microphone = null;
  let meter = null;
  let phase = "idle"; // idle, starting, in-call, ended

  function announce(text) {
    statusLine.textContent = text;
  }

  function setPhase(next) {
    phase = next;
    document.body.dataset.phase = next;
    const calling = next === "starting" || next === "in-call";
    callButton.textContent = calling ? "Raccrocher" : "Appeler";
    callButton.classList.toggle("hangup", calling);
    for (const key of keypad.querySelectorAll("button")) {
      key.disabled = next !== "in-call";
    }
  }

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(message));
    }
  }

  function addCaption(who, text) {
    const line = document.createElement("p");
    line.className = "caption " + (who === "bot" ? "bot" : "caller");
    const label = document.createElement("span");
    label.className = "who";
    label.textContent = who === "bot" ? "Assistant : " : "Compris de vous : ";
    line.append(label, document.createTextNode(text));
    captions.append(line);
    captions.scrollTop = captions.scrollHeight;
  }

  function start() {
    setPhase("starting");
    captions.replaceChildren();
    announce("Connexion au service…");
    const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + window.location.host + "/call/ws");
    socket.addEventListener("message", (event) => {
      onMessage(event.data).catch((error) => {
        console.warn("call page:", error);
        finish("L'appel n'a pas pu être établi. Merci de réessayer.");
      });
    });
    socket.addEventListener("close", () => {
      socket = null;
      if (phase === "starting" || phase === "in-call") {
        finish("La connexion avec le service a été coupée. Merci de rappeler si besoin.");
      }
    });
  }

  async function onMessage(data) {
    let message;
    try {
      message = JSON.parse(data);
    } catch (error) {
      return;
    }
    switch (message.type) {
      case "ready":
        await offer(message.iceServers || []);
        break;
      case "answer":
        if (peer) {
          await peer.setRemoteDescription({ type: "answer", sdp: message.sdp });
          announce("Connexion de l'audio…");
        }
        break;
      case "state":
        onState(message.state, message.reason);
        break;
      case "caption":
        addCaption(message.who, message.text);
        break;
      case "busy":
        finish("Toutes les lignes sont occupées. Merci de réessayer dans quelques minutes.");
        break;
      case "unavailable":
        finish("Le service n'est pas disponible pour le moment. Merci de réessayer plus tard.");
        break;
      case "error":
        console.warn("call page: the server says", message.error);
        break;
      default:
        break;
    }
  }

  function onState(state, reason) {
    if (state === "connected") {
      setPhase("in-call");
      announce("Appel en cours : vous parlez à l'assistant automatique.");
    } else if (state === "transferred") {
      announce("Vous êtes mis en relation avec un conseiller.");
    } else if (state === "ended") {
      finish(ENDED[reason] || ENDED.caller);
    }
  }

  async function offer(iceServers) {
    announce("Votre navigateur vous demande l'autorisation d'utiliser le micro.");
    try {
      microphone = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: processing, noiseSuppression: processing, autoGainControl: processing },
        video: false,
      });
    } catch (error) {
      finish("Sans accès au micro, l'appel n'est pas possible. Autorisez le micro pour ce site dans votre "
        + "navigateur, puis appuyez à nouveau sur Appeler.");
      return;
    }
    if (phase !== "starting") { // hung up meanwhile
      stopMicrophone();
      return;
    }
    announce("Appel en cours de connexion…");
    peer = new RTCPeerConnection({ iceServers });
    for (const track of microphone.getTracks()) {
      peer.addTrack(track, microphone);
    }
    peer.addEventListener("track", (event) => {
      const stream = event.streams[0] || new MediaStream([event.track]);
      remote.srcObject = stream;
      remote.play().catch(() => {});
      listenTo(stream);
    });
    peer.addEventListener("connectionstatechange", () => {
      if (peer && peer.connectionState === "failed" && phase !== "ended") {
        send({ type: "hangup" });
        finish(ENDED.media_timeout);
      }
    });
    await peer.setLocalDescription(await peer.createOffer());
    await gatheringComplete(peer);
    if (peer) {
      send({ type: "offer", sdp: peer.localDescription.sdp });
    }
  }

  function gatheringComplete(connection) {
    return new Promise((resolve) => {
      if (connection.iceGatheringState === "complete") {
        resolve();
        return;
      }
      const timer = window.setTimeout(done, GATHERING_LIMIT_MS);
      function done() {
        window.clearTimeout(timer);
        connection.removeEventListener("icegatheringstatechange", check);
        resolve();
      }
      function check() {
        if (connection.iceGatheringState === "complete") {
          done();
        }
      }
      connection.addEventListener("icegatheringstatechange", check);
    });
  }

  // The level of what the bot says, shown as a bar; the seconds with sound are kept in data-heard-seconds.
  function listenTo(stream) {
    stopMeter();
    const context = new AudioContext();
    const analyser = context.createAnalyser();
    analyser.fftSize = 1024;
    context.createMediaStreamSource(stream).connect(analyser);
    context.resume().catch(() => {});
    const samples = new Float32Array(analyser.fftSize);
    let heard = 0;
    const every = 50;
    const timer = window.setInterval(() => {
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const value of samples) {
        sum += value * value;
      }
      const rms = Math.sqrt(sum / samples.length);
      if (rms > SOUND_LEVEL) {
        heard += every / 1000;
        document.body.dataset.heardSeconds = heard.toFixed(2);
      }
      levelBar.style.width = Math.min(100, Math.round(rms * 400)) + "%";
    }, every);
    meter = { context, timer };
  }

  function stopMeter() {
    if (meter) {
      window.clearInterval(meter.timer);
      meter.context.close().catch(() => {});
      meter = null;
      levelBar.style.width = "0";
    }
  }

  function stopMicrophone() {
    if (microphone) {
      for (const track of microphone.getTracks()) {
        track.stop();
      }
      microphone = null;
    }
  }

  function finish(text) {
    if (phase === "ended" || phase === "idle") {
      announce(text);
      return;
    }
    setPhase("ended");
    announce(text);
    stopMeter();
    stopMicrophone();
    if (peer) {
      peer.close();
      peer = null;
    }
    remote.srcObject = null;
    if (socket) {
      const closing = socket;
      socket = null;
      closing.close();
    }
  }

  function hangUp() {
    send({ type: "hangup" });
    finish(ENDED.caller);
  }

  function press(key) {
    if (phase !== "in-call") {
      return;
    }
    send({ type: "dtmf", key });
    if (key === "0") {
      announce("Vous avez demandé à parler à un conseiller.");
    } else if (key === "*") {
      announce("Vous avez demandé à réécouter le dernier message.");
    }
  }

  callButton.addEventListener("click", () => {
    if (phase === "starting" || phase === "in-call") {
      hangUp();
    } else {
      start();
    }
  });
  keypad.addEventListener("click", (event) => {
    const key = event.target.closest("button[data-key]");
    if (key && !key.disabled) {
      press(key.dataset.key);
    }
  });
  document.addEventListener("keydown", (event) => {
    if (phase === "in-call" && "0123456789*#".includes(event.key) && event.key.length === 1
        && !event.ctrlKey && !event.metaKey && !event.altKey) {
      press(event.key);
    }
  });
  window.addEventListener("pagehide", () => {
    if (phase === "starting" || phase === "in-call") {
      hangUp();
    }
  });
  setPhase("idle");
})();

"use strict";
// Builds an element: el("td", {class: "x"}, "text", child, ...). Text is never parsed as HTML.
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}
function table(heads, rows, empty) {
  if (!rows.length) return el("p", {class: "empty"}, empty);
  return el("table", {}, el("tr", {}, ...heads.map(h => el("th", {}, h))),
    ...rows.map(cells => el("tr", {}, ...cells.map(c => el("td", {}, c)))));
}
// One format for every time on the page: HH:MM:SS in the viewer's local time (24-hour), the
// full UTC ISO time in its title. The model's times are epoch ms, discovery's ISO strings.
const pad = n => String(n).padStart(2, "0");
const clock = date => pad(date.getHours()) + ":" + pad(date.getMinutes()) + ":" + pad(date.getSeconds());
function time(value) {
  if (value === null || value === undefined || value === "" || value === 0) return "";
  const date = new Date(value);
  if (isNaN(date.getTime())) return String(value);
  const iso = date.toISOString();
  return el("time", {datetime: iso, title: iso}, clock(date));
}
const badge = s => el("span", {class: "state " + s}, s);
// A link to `uri`, showing `text`, if `uri` is an http or https URI; else `text` alone. Anyone
// can announce a service, and a `javascript:` URI made a link would run script when clicked.
function webLink(uri, text) {
  let url;
  try {
    url = new URL(uri);
  } catch {
    return text;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return text;
  return el("a", {href: url.href, rel: "noopener noreferrer"}, text);
}
const link = address => webLink("http://" + address + "/", address);

// A task's last lines, fetched only while the learner has them open (the state carries none);
// #lines=TASK_ID in the address opens one task's.
const opened = new Map();  // task id -> the lines last fetched
const asked = new URLSearchParams(location.hash.slice(1)).get("lines");
if (asked) opened.set(asked, "");
function lastLines(taskId) {
  const pre = el("pre", {class: "logs"}, opened.get(taskId));
  const details = el("details", opened.has(taskId) ? {open: ""} : {}, el("summary", {}, "show"), pre);
  const load = async () => {
    try {
      const answer = await fetch("/platform/tasks/" + encodeURIComponent(taskId) + "/logs", {cache: "no-store"});
      const text = answer.ok ? (await answer.json()).join("\n") : "HTTP " + answer.status;
      if (opened.has(taskId)) opened.set(taskId, text);
      pre.textContent = text;
    } catch (error) {
      pre.textContent = error.message;
    }
  };
  details.addEventListener("toggle", () => {
    if (!details.open) opened.delete(taskId);
    else if (!opened.has(taskId)) { opened.set(taskId, ""); load(); }
  });
  if (opened.has(taskId)) load();
  return details;
}

function render(data) {
  const s = data.singularity, d = data.discovery;
  document.getElementById("api").textContent = location.origin + "/singularity";
  document.getElementById("disco").textContent = d.uri + "/watch";
  const put = (id, node) => document.getElementById(id).replaceChildren(node);

  put("requests", table(["request", "state", "instances", "active deploy", "pending deploy"],
    s.requests.map(r => [r.id, r.state, r.instances, r.active_deploy || "", r.pending_deploy || ""]),
    "No request yet: otpl-deploy creates one, or POST /singularity/api/requests."));

  put("deploys", table(["deploy", "image", "state", "started", "ended", "message"],
    s.deploys.map(x => [
      el("span", {}, x.request_id + " ", el("b", {}, x.deploy_id)), el("code", {}, x.image),
      badge(x.state), time(x.started_at), time(x.finished_at),
      el("div", {}, x.message || "",
        ...x.failures.map(f => el("div", {class: "failure"},
          el("b", {}, f.reason), f.task_id ? " " + f.task_id : "", f.message ? ": " + f.message : "")))]),
    "No deploy yet."));

  put("tasks", table(["task", "host:port", "status", "health checks", "last log lines"],
    s.tasks.map(t => [
      el("span", {}, el("b", {}, t.deploy_id), " #" + t.instance_no, el("br"), el("small", {}, t.task_id),
        // The image's digest when the agent pulled it from a registry: what really runs.
        t.digest ? el("br") : null, t.digest ? el("small", {}, el("code", {}, t.digest)) : null),
      link(t.address),
      el("span", {}, badge(t.status), t.exit_code !== null && t.exit_code !== undefined ? " exit " + t.exit_code : "",
        t.healthy ? " healthy" : ""),
      el("div", {}, ...t.health_checks.slice(-5).map(c => el("div", {class: c.status >= 200 && c.status < 300 ? "ok" : "bad"},
        time(c.at), " " + (c.status !== null && c.status !== undefined ? c.status : c.error)))),
      lastLines(t.task_id)]),
    "No task yet."));

  put("announcements", table(["service type", "service URI", "environment", "announced", "expires in"],
    d.announcements.map(a => [a.serviceType, webLink(a.serviceUri, a.serviceUri), a.environment,
      time(a.announceTime), a.expiresIn + " s"]),
    "Nothing announced: step 09 announces when OT_ENV is set (config/local sets it)."));
  put("events", table(["time", "event", "service", "URI"],
    d.events.slice().reverse().map(e => [time(e.timestamp), e.event, e.serviceType, e.serviceUri]),
    "No announcement came or went yet."));
}

async function poll() {
  const status = document.getElementById("status");
  try {
    const answer = await fetch("/platform/state", {cache: "no-store"});
    if (!answer.ok) throw new Error("HTTP " + answer.status);
    render(await answer.json());
    status.textContent = "updated " + clock(new Date());
  } catch (error) {
    status.textContent = "the platform does not answer (" + error.message + "): is it still running?";
  }
  setTimeout(poll, 1000);
}
poll();

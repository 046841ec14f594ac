const LABELS = {
  en: {title: "Safeguarding information-sharing pipeline", privacy: "Counts, identifiers and rule names only — no personal data.",
       updated: "Updated", throughput: "Events per second (last minute)", intake: "Intake", per_agency: "Events per second by agency",
       deliveries: "Deliveries per sink", encompass: "Operation Encompass notices",
       register: "Child protection register", quality: "Data quality", dead_letters: "Dead letters", top_reasons: "Top reasons",
       recent_parked: "Recently parked", lag: "Consumer lag per partition", watching: "Deadlines being watched",
       by_type: "Events by type", by_rule: "Deliveries by rule", accepted: "accepted", processed: "processed",
       awaiting: "awaiting routing", parked: "parked", flagged: "children flagged", nhs_share: "with a valid NHS number (CP-IS go-live 95%)",
       differences: "differences at last reconciliation", voice: "PPNs with the child's voice recorded",
       language: "persons with a language preference", pending: "pending", delivered: "delivered", acknowledged: "acknowledged",
       encompass_overdue: "Encompass notices overdue", records: "person records",
       masters: "master persons", review_open: "pairs waiting for review", merges: "merges",
       unmerges: "un-merges", none: "none", live: "live", polling: "polling", button: "Cymraeg", total: "all topics",
       feeds: "Outbound feeds (relayed / waiting / webhook acknowledged)", oldest: "oldest waiting (s)",
       worklist: "Worklist: overdue, and due in the next hours", due: "Due", state: "State", rule: "Rule", reference: "Reference",
       recipients: "For", overdue: "overdue", due_soon: "due", more: "more not shown", per_recipient: "Deliveries per recipient (last hour, five-minute buckets)",
       review: "Identity review queue", review_role: "Confirm or reject needs the record-viewer role.", confirm: "Confirm", reject: "Reject",
       replay: "Replay", replayed: "replayed", caught_up: "every partition caught up", mail: "Captured e-mails (this machine's mail capture)",
       open: "Open", signin: "Sign in", signout: "Sign out", signed_in: "Signed in:", not_signed_in: "Not signed in",
       done: "Done:", refused: "Refused:", sure_confirm: "Merge these two person records?", sure_reject: "Keep these two people apart for good?"},
  cy: {title: "Piblinell rhannu gwybodaeth diogelu", privacy: "Cyfrifon, dynodwyr ac enwau rheolau yn unig — dim data personol.",
       updated: "Diweddarwyd", throughput: "Digwyddiadau yr eiliad (y funud olaf)", intake: "Derbyn", per_agency: "Digwyddiadau yr eiliad fesul asiantaeth",
       deliveries: "Danfoniadau fesul sinc", encompass: "Hysbysiadau Ymgyrch Encompass",
       register: "Cofrestr amddiffyn plant", quality: "Ansawdd data", dead_letters: "Llythyrau marw", top_reasons: "Prif resymau",
       recent_parked: "Wedi'u parcio'n ddiweddar", lag: "Oedi defnyddwyr fesul rhaniad", watching: "Terfynau amser dan wyliadwriaeth",
       by_type: "Digwyddiadau fesul math", by_rule: "Danfoniadau fesul rheol", accepted: "derbyniwyd", processed: "proseswyd",
       awaiting: "yn aros i'w cyfeirio", parked: "wedi'u parcio", flagged: "plant wedi'u nodi", nhs_share: "â rhif GIG dilys (CP-IS: 95%)",
       differences: "gwahaniaethau yn y cysoniad olaf", voice: "PPNau â llais y plentyn wedi'i gofnodi",
       language: "pobl â dewis iaith", pending: "yn aros", delivered: "wedi'u danfon", acknowledged: "wedi'u cydnabod",
       encompass_overdue: "hysbysiadau Encompass yn hwyr", records: "cofnodion person",
       masters: "prif bersonau", review_open: "parau yn aros am adolygiad", merges: "cyfuniadau",
       unmerges: "dad-gyfuniadau", none: "dim", live: "byw", polling: "holi", button: "English", total: "pob pwnc",
       feeds: "Ffrydiau allan (wedi'u trosglwyddo / yn aros / cydnabod gan y bachyn gwe)", oldest: "yr hynaf yn aros (e)",
       worklist: "Rhestr waith: yn hwyr, ac yn ddyledus yn yr oriau nesaf", due: "Erbyn", state: "Cyflwr", rule: "Rheol",
       reference: "Cyfeirnod", recipients: "I", overdue: "yn hwyr", due_soon: "yn ddyledus", more: "yn rhagor heb eu dangos",
       per_recipient: "Danfoniadau fesul derbynnydd (yr awr olaf, fesul pum munud)", review: "Ciw adolygu hunaniaeth",
       review_role: "Mae angen rôl gwyliwr cofnodion i gadarnhau neu wrthod.", confirm: "Cadarnhau", reject: "Gwrthod",
       replay: "Ailchwarae", replayed: "wedi'i ailchwarae", caught_up: "pob rhaniad yn gyfredol",
       mail: "E-byst a ddaliwyd (dal post y peiriant hwn)", open: "Agor", signin: "Mewngofnodi", signout: "Allgofnodi",
       signed_in: "Wedi mewngofnodi:", not_signed_in: "Heb fewngofnodi", done: "Wedi'i wneud:", refused: "Gwrthodwyd:",
       sure_confirm: "Cyfuno'r ddau gofnod person hyn?", sure_reject: "Cadw'r ddau berson hyn ar wahân am byth?"},
};
let language = localStorage.getItem("safeguard.language") || "en";
let last = null;
let me = {signed_in: false, role: null};
const t = key => LABELS[language][key] || key;
const locale = () => language === "cy" ? "cy-GB" : "en-GB";
const when = iso => new Date(iso).toLocaleString(locale(), {weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit"});

function applyLanguage() {
  document.documentElement.lang = language;
  document.querySelectorAll("[data-label]").forEach(el => { el.textContent = t(el.dataset.label); });
  document.getElementById("language").textContent = t("button");
  showWho();
  if (last) render(last);
}
document.getElementById("language").addEventListener("click", () => {
  language = language === "en" ? "cy" : "en"; localStorage.setItem("safeguard.language", language); applyLanguage();
});

function cell(content, className) {
  const td = document.createElement("td");
  if (className) td.className = className;
  if (content instanceof Node) td.append(content); else td.textContent = content;
  return td;
}
function rows(id, pairs, link) {
  const table = document.getElementById(id);
  if (!pairs.length) pairs = [[t("none"), ""]];
  table.replaceChildren(...pairs.map(([k, v, href]) => {
    const tr = document.createElement("tr");
    let label = k;
    if (href) { label = document.createElement("a"); label.href = href; label.textContent = k; }
    tr.append(cell(label), cell(v, "n")); return tr;
  }));
}
function body(id, trs, columns) {
  const tbody = document.querySelector(`#${id} tbody`);
  if (!trs.length) { const tr = document.createElement("tr"); const td = cell(t("none")); td.colSpan = columns; tr.append(td); trs = [tr]; }
  tbody.replaceChildren(...trs);
}
function button(label, data, enabled) {
  const b = document.createElement("button");
  b.type = "button"; b.className = "small"; b.textContent = label; b.disabled = !enabled;
  Object.entries(data).forEach(([k, v]) => { b.dataset[k] = v; });
  return b;
}

function say(text, ok) {
  const status = document.getElementById("action-status");
  status.textContent = text; status.className = "status " + (ok ? "ok" : "error");
}
async function act(url, confirmText) {
  if (confirmText && !window.confirm(confirmText)) return;
  try {
    const response = await fetch(url, {method: "POST", credentials: "same-origin", headers: {"Accept": "application/json"}});
    const answer = await response.json();
    if (response.ok) say(`${t("done")} ${answer.result || (answer.replayed || []).join(", ")}`, true);
    else say(`${t("refused")} ${answer.error}`, false);
  } catch (error) { say(`${t("refused")} ${error}`, false); }
  poll();
}
document.addEventListener("click", event => {
  const target = event.target.closest("button[data-review], button[data-replay], button[data-mail]");
  if (!target) return;
  if (target.dataset.review) {
    const decision = target.dataset.decision;
    act(`/api/v1/identity/reviews/${encodeURIComponent(target.dataset.review)}/${decision}`,
        t(decision === "confirm" ? "sure_confirm" : "sure_reject"));
  } else if (target.dataset.replay) {
    act(`/api/v1/dead-letters/${encodeURIComponent(target.dataset.replay)}/replay`);
  } else {
    openMail(target.dataset.mail);
  }
});

const pct = v => v === null || v === undefined ? "—" : (v * 100).toFixed(1) + "%";
const history = [[], []];
const chart = new uPlot({width: Math.max(240, document.getElementById("chart").clientWidth || 380), height: 150,
  series: [{}, {label: "events/s", stroke: "#2271b1", fill: "rgba(34,113,177,.12)"}], axes: [{}, {}]},
  history, document.getElementById("chart"));
const PALETTE = ["#2271b1", "#d63638", "#00a32a", "#dba617", "#8c5ed6", "#3582c4", "#787c82"];
let recipientChart = null, recipientKeys = "";
function renderRecipients(over) {
  const names = Object.keys(over.recipients);
  const host = document.getElementById("recipient-chart");
  const data = [over.starts.map(s => Date.parse(s) / 1000), ...names.map(n => over.recipients[n])];
  if (names.join("|") !== recipientKeys || !recipientChart) {
    if (recipientChart) recipientChart.destroy();
    host.replaceChildren();
    recipientKeys = names.join("|");
    recipientChart = new uPlot({width: Math.max(320, host.clientWidth || 760), height: 170,
      series: [{}, ...names.map((n, i) => ({label: n, stroke: PALETTE[i % PALETTE.length], width: 2}))], axes: [{}, {}]}, data, host);
  } else recipientChart.setData(data);
}
function renderLag(lag) {
  const host = document.getElementById("lag");
  const entries = Object.entries(lag).sort((a, b) => b[1] - a[1]);
  const waiting = entries.filter(([, v]) => v > 0).slice(0, 16);
  if (!waiting.length) {
    const p = document.createElement("p"); p.className = "muted";
    p.textContent = entries.length ? `${t("caught_up")} (${entries.length})` : t("none");
    host.replaceChildren(p); return;
  }
  const top = waiting[0][1];
  host.replaceChildren(...waiting.map(([name, value]) => {
    const row = document.createElement("div"); row.className = "bar";
    const label = document.createElement("span"); label.textContent = name.replace(/^[^.]+\./, ""); label.title = name;
    const track = document.createElement("span"); const fill = document.createElement("div"); fill.className = "fill";
    fill.style.width = `${Math.max(1, 100 * value / top)}%`; track.append(fill);
    const n = document.createElement("span"); n.className = "n"; n.textContent = value;
    row.append(label, track, n); return row;
  }));
}
function render(f) {
  last = f;
  const viewer = me.role === "record_viewer", operator = me.signed_in;
  body("worklist", f.worklist.items.map(w => {
    const tr = document.createElement("tr");
    tr.append(cell(when(w.due_at), "nowrap"), cell(t(w.status === "overdue" ? "overdue" : "due_soon"),
                                                   w.status === "overdue" ? "overdue nowrap" : "nowrap"),
              cell(w.rule), cell(w.reference), cell(w.recipients.join(", ")));
    return tr;
  }), 5);
  const hidden = f.worklist.total - f.worklist.items.length;
  document.getElementById("worklist-more").textContent = hidden > 0 ? `${hidden} ${t("more")}` : "";
  rows("intake", [[t("accepted"), f.intake.accepted], [t("processed"), f.intake.processed], [t("awaiting"), f.intake.awaiting_routing]]);
  rows("agencies", Object.entries(f.rates.per_agency).map(([k, v]) => [k, v.toFixed(2)]).concat([[t("total"), f.rates.total.toFixed(2)]]));
  rows("deliveries", Object.entries(f.deliveries));
  rows("feeds", f.feeds.recipients.slice(0, 12).map(r => [r.recipient, `${r.relayed} / ${r.waiting} / ${r.webhook_acknowledged}`])
                 .concat([[t("oldest"), f.feeds.oldest_unrelayed_seconds]]));
  rows("encompass", [[t("pending"), f.encompass.pending], [t("delivered"), f.encompass.delivered],
                     [t("acknowledged"), f.encompass.acknowledged], [t("encompass_overdue"), f.encompass.overdue]]);
  const differences = f.register.reconciliation.reduce((sum, r) => sum + r.differences, 0);
  rows("register", [[t("flagged"), f.register.active_flags], [t("nhs_share"), pct(f.register.share_with_valid_nhs_number)],
                    [t("differences"), differences]]);
  rows("quality", [[t("voice"), pct(f.quality.ppns_with_voice_of_child)], [t("language"), pct(f.quality.persons_with_language_preference)]]);
  rows("identity", [[t("records"), f.identity.records], [t("masters"), f.identity.master_persons],
                    [t("review_open"), f.identity.review_open], [t("merges"), f.identity.merges], [t("unmerges"), f.identity.unmerges]]);
  body("reviews", f.identity.waiting.map(w => {
    const tr = document.createElement("tr");
    const buttons = document.createElement("span");
    buttons.append(button(t("confirm"), {review: w.review_id, decision: "confirm"}, viewer), " ",
                   button(t("reject"), {review: w.review_id, decision: "reject"}, viewer));
    tr.append(cell(`${w.review_id}: ${w.person_id} ~ ${w.candidate_person_id}`), cell(w.score.toFixed(1), "n"), cell(buttons, "act"));
    return tr;
  }), 3);
  rows("dead", [[t("parked"), f.dead_letters.total]]);
  rows("reasons", f.dead_letters.top_reasons.map(r => [r.reason, r.count]));
  body("recent", f.dead_letters.recent.map(r => {
    const tr = document.createElement("tr");
    const link = document.createElement("a"); link.href = `/api/v1/dead-letters/${r.dead_letter_id}`;
    link.textContent = `${r.topic}: ${r.field_path || r.reason.slice(0, 60)}`;
    const action = r.replayed_at ? t("replayed") : button(t("replay"), {replay: r.dead_letter_id}, operator);
    tr.append(cell(link), cell(action, "act")); return tr;
  }), 2);
  renderLag(f.lag);
  renderRecipients(f.deliveries_over_time);
  rows("watching", f.deadlines.filter(d => d.status === "open").map(d => [d.rule, d.count]));
  rows("types", Object.entries(f.intake.by_event_type));
  rows("rules", Object.entries(f.deliveries_by_rule));
  document.getElementById("updated").textContent = new Date(f.generated_at).toLocaleTimeString(locale());
}
function receive(f) {
  history[0].push(Date.parse(f.generated_at) / 1000); history[1].push(f.rates.total);
  if (history[0].length > 300) { history[0].shift(); history[1].shift(); }
  chart.setData(history);
  render(f);
}
function poll() { fetch("/api/v1/summary").then(r => r.json()).then(receive).catch(() => {}); }

function showWho() {
  document.getElementById("who").textContent = me.signed_in ? `${t("signed_in")} ${me.organisation_code} (${me.role})` : t("not_signed_in");
  document.getElementById("signin").hidden = me.signed_in;
  document.getElementById("signout").hidden = !me.signed_in;
}
async function loadMail() {
  const response = await fetch("/api/v1/mail", {credentials: "same-origin"});
  if (!response.ok) return;
  const listed = (await response.json()).captured;
  document.getElementById("mail-panel").hidden = false;
  body("mail", listed.slice(0, 12).map(m => {
    const tr = document.createElement("tr");
    const about = document.createElement("span");
    const to = document.createElement("div"); to.className = "muted"; to.textContent = m.to;
    about.append(m.subject, to);
    tr.append(cell(about), cell(button(t("open"), {mail: m.name}, true), "act")); return tr;
  }), 2);
}
async function openMail(name) {
  const response = await fetch(`/api/v1/mail/${encodeURIComponent(name)}`, {credentials: "same-origin"});
  const text = document.getElementById("mail-text");
  text.textContent = response.ok ? await response.text() : `${t("refused")} ${response.status}`;
  text.dataset.name = name;
  text.focus();
}
async function start() {
  try { me = await (await fetch("/api/v1/whoami", {credentials: "same-origin"})).json(); } catch (error) { /* shown as not signed in */ }
  applyLanguage();
  if (me.role === "record_viewer") { loadMail(); setInterval(loadMail, 10000); }
  if (window.EventSource) {
    const source = new EventSource("/api/v1/stream");
    source.addEventListener("figures", e => { document.getElementById("mode").textContent = "● " + t("live"); receive(JSON.parse(e.data)); });
    source.onerror = () => { document.getElementById("mode").textContent = t("polling"); };
  } else { poll(); setInterval(poll, 2000); }
}
start();

const LABELS = {
  en: {title: "Safeguarding information-sharing pipeline", privacy: "Counts, identifiers and rule names only — no personal data.",
       updated: "Updated", throughput: "Events per second (last minute)", intake: "Intake", per_agency: "Events per second by agency",
       deliveries: "Deliveries per sink", overdue: "Overdue and breached", encompass: "Operation Encompass notices",
       register: "Child protection register", quality: "Data quality", dead_letters: "Dead letters", top_reasons: "Top reasons",
       recent_parked: "Recently parked", lag: "Consumer lag per partition", watching: "Deadlines being watched",
       by_type: "Events by type", by_rule: "Deliveries by rule", accepted: "accepted", processed: "processed",
       awaiting: "awaiting routing", parked: "parked", flagged: "children flagged", nhs_share: "with a valid NHS number (CP-IS go-live 95%)",
       differences: "differences at last reconciliation", voice: "PPNs with the child's voice recorded",
       language: "persons with a language preference", pending: "pending", delivered: "delivered", acknowledged: "acknowledged",
       encompass_overdue: "Encompass notices overdue", identity: "Master person index", records: "person records",
       masters: "master persons", review_open: "pairs waiting for review (safeguard identity review list)", merges: "merges",
       unmerges: "un-merges", waiting: "Oldest pairs waiting for review", none: "none", live: "live", polling: "polling", button: "Cymraeg", total: "all topics",
       feeds: "Outbound feeds (relayed / waiting / webhook acknowledged)", oldest: "oldest waiting (s)"},
  cy: {title: "Piblinell rhannu gwybodaeth diogelu", privacy: "Cyfrifon, dynodwyr ac enwau rheolau yn unig — dim data personol.",
       updated: "Diweddarwyd", throughput: "Digwyddiadau yr eiliad (y funud olaf)", intake: "Derbyn", per_agency: "Digwyddiadau yr eiliad fesul asiantaeth",
       deliveries: "Danfoniadau fesul sinc", overdue: "Yn hwyr ac wedi'u torri", encompass: "Hysbysiadau Ymgyrch Encompass",
       register: "Cofrestr amddiffyn plant", quality: "Ansawdd data", dead_letters: "Llythyrau marw", top_reasons: "Prif resymau",
       recent_parked: "Wedi'u parcio'n ddiweddar", lag: "Oedi defnyddwyr fesul rhaniad", watching: "Terfynau amser dan wyliadwriaeth",
       by_type: "Digwyddiadau fesul math", by_rule: "Danfoniadau fesul rheol", accepted: "derbyniwyd", processed: "proseswyd",
       awaiting: "yn aros i'w cyfeirio", parked: "wedi'u parcio", flagged: "plant wedi'u nodi", nhs_share: "â rhif GIG dilys (CP-IS: 95%)",
       differences: "gwahaniaethau yn y cysoniad olaf", voice: "PPNau â llais y plentyn wedi'i gofnodi",
       language: "pobl â dewis iaith", pending: "yn aros", delivered: "wedi'u danfon", acknowledged: "wedi'u cydnabod",
       encompass_overdue: "hysbysiadau Encompass yn hwyr", identity: "Mynegai prif bersonau", records: "cofnodion person",
       masters: "prif bersonau", review_open: "parau yn aros am adolygiad (safeguard identity review list)", merges: "cyfuniadau",
       unmerges: "dad-gyfuniadau", waiting: "Y parau hynaf yn aros am adolygiad", none: "dim", live: "byw", polling: "holi", button: "English", total: "pob pwnc",
       feeds: "Ffrydiau allan (wedi'u trosglwyddo / yn aros / cydnabod gan y bachyn gwe)", oldest: "yr hynaf yn aros (e)"},
};
let language = localStorage.getItem("safeguard.language") || "en";
let last = null;
const t = key => LABELS[language][key] || key;
function applyLanguage() {
  document.documentElement.lang = language;
  document.querySelectorAll("[data-label]").forEach(el => { el.textContent = t(el.dataset.label); });
  document.getElementById("language").textContent = t("button");
  if (last) render(last);
}
document.getElementById("language").addEventListener("click", () => {
  language = language === "en" ? "cy" : "en"; localStorage.setItem("safeguard.language", language); applyLanguage();
});
function rows(id, pairs, link) {
  const table = document.getElementById(id);
  if (!pairs.length) pairs = [[t("none"), ""]];
  table.replaceChildren(...pairs.map(([k, v, href]) => {
    const tr = document.createElement("tr");
    const a = document.createElement("td");
    if (href) { const anchor = document.createElement("a"); anchor.href = href; anchor.textContent = k; a.append(anchor); }
    else a.textContent = k;
    const b = document.createElement("td"); b.className = "n"; b.textContent = v;
    tr.append(a, b); return tr;
  }));
}
const pct = v => v === null || v === undefined ? "—" : (v * 100).toFixed(1) + "%";
const history = [[], []];
const chart = new uPlot({width: Math.max(320, document.getElementById("chart").clientWidth || 800), height: 160,
  series: [{}, {label: "events/s", stroke: "#2271b1", fill: "rgba(34,113,177,.12)"}], axes: [{}, {}]},
  history, document.getElementById("chart"));
function render(f) {
  last = f;
  rows("intake", [[t("accepted"), f.intake.accepted], [t("processed"), f.intake.processed], [t("awaiting"), f.intake.awaiting_routing]]);
  rows("agencies", Object.entries(f.rates.per_agency).map(([k, v]) => [k, v.toFixed(2)]).concat([[t("total"), f.rates.total.toFixed(2)]]));
  rows("deliveries", Object.entries(f.deliveries));
  rows("feeds", f.feeds.recipients.slice(0, 12).map(r => [r.recipient, `${r.relayed} / ${r.waiting} / ${r.webhook_acknowledged}`])
                 .concat([[t("oldest"), f.feeds.oldest_unrelayed_seconds]]));
  const breached = f.deadlines.filter(d => d.status === "breached").map(d => [d.rule, d.count]);
  rows("overdue", breached.concat(f.encompass.overdue ? [[t("encompass_overdue"), f.encompass.overdue]] : []));
  rows("encompass", [[t("pending"), f.encompass.pending], [t("delivered"), f.encompass.delivered],
                     [t("acknowledged"), f.encompass.acknowledged], [t("encompass_overdue"), f.encompass.overdue]]);
  const differences = f.register.reconciliation.reduce((sum, r) => sum + r.differences, 0);
  rows("register", [[t("flagged"), f.register.active_flags], [t("nhs_share"), pct(f.register.share_with_valid_nhs_number)],
                    [t("differences"), differences]]);
  rows("quality", [[t("voice"), pct(f.quality.ppns_with_voice_of_child)], [t("language"), pct(f.quality.persons_with_language_preference)],
                   [t("nhs_share"), pct(f.register.share_with_valid_nhs_number)]]);
  rows("identity", [[t("records"), f.identity.records], [t("masters"), f.identity.master_persons],
                    [t("review_open"), f.identity.review_open], [t("merges"), f.identity.merges], [t("unmerges"), f.identity.unmerges]]);
  rows("waiting", f.identity.waiting.map(w => [`${w.review_id}: ${w.person_id} ~ ${w.candidate_person_id}`, w.score.toFixed(1)]));
  rows("dead", [[t("parked"), f.dead_letters.total]]);
  rows("reasons", f.dead_letters.top_reasons.map(r => [r.reason, r.count]));
  rows("recent", f.dead_letters.recent.map(r => [`${r.topic}: ${r.field_path || r.reason.slice(0, 60)}`, "", `/api/v1/dead-letters/${r.dead_letter_id}`]));
  rows("lag", Object.entries(f.lag).filter(([, v]) => v > 0).map(([k, v]) => [k, v]));
  rows("watching", f.deadlines.filter(d => d.status === "open").map(d => [d.rule, d.count]));
  rows("types", Object.entries(f.intake.by_event_type));
  rows("rules", Object.entries(f.deliveries_by_rule));
  document.getElementById("updated").textContent = new Date(f.generated_at).toLocaleTimeString(language === "cy" ? "cy-GB" : "en-GB");
}
function receive(f) {
  history[0].push(Date.parse(f.generated_at) / 1000); history[1].push(f.rates.total);
  if (history[0].length > 300) { history[0].shift(); history[1].shift(); }
  chart.setData(history);
  render(f);
}
function poll() { fetch("/api/v1/summary").then(r => r.json()).then(receive).catch(() => {}); }
if (window.EventSource) {
  const source = new EventSource("/api/v1/stream");
  source.addEventListener("figures", e => { document.getElementById("mode").textContent = "● " + t("live"); receive(JSON.parse(e.data)); });
  source.onerror = () => { document.getElementById("mode").textContent = t("polling"); };
} else { poll(); setInterval(poll, 2000); }
applyLanguage();

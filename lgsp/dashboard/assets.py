"""The dashboard page's inline style sheet and its refresh script."""

#: How often the page refreshes itself, in seconds.
REFRESH_SECONDS = 5

STYLE = """
:root{--ok:#1a7f37;--bad:#c62828;--na:#8a94a6;--ink:#1f2933;--mute:#5f6b7a;--line:#e1e5ea;
--bg:#f3f5f8;--brand:#0b3a66}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;
color:var(--ink);background:var(--bg)}
header{background:var(--brand);color:#fff}
.top{max-width:1440px;margin:0 auto;padding:14px 28px;display:flex;justify-content:space-between;
align-items:flex-end;gap:16px;flex-wrap:wrap}
header h1{margin:0;font-size:20px;font-weight:600}
header p{margin:2px 0 0;font-size:13px;color:#d3deea}
header .en{color:#a9bdd2}
.asof{text-align:right}
.en{color:var(--mute);font-size:.86em;font-weight:400}
main{max-width:1440px;margin:0 auto;padding:18px 28px 28px}
h2{font-size:15px;margin:0 0 10px}
.groups{display:grid;grid-template-columns:2fr 3fr;gap:20px}
.cards{display:grid;gap:12px}
.g2 .cards{grid-template-columns:repeat(2,1fr)}
.g3 .cards{grid-template-columns:repeat(3,1fr)}
.kpi{background:#fff;border:1px solid var(--line);border-top:4px solid var(--na);border-radius:6px;
padding:12px 14px}
.kpi.ok{border-top-color:var(--ok)}
.kpi.bad{border-top-color:var(--bad)}
.kpi h3{margin:0;font-size:13px;font-weight:600;min-height:4.4em}
.kpi h3 small{display:block;color:var(--mute);font-weight:400}
.value{font-size:30px;font-weight:700;margin:4px 0 2px;line-height:1.2;font-variant-numeric:tabular-nums}
.ok .value{color:var(--ok)}
.bad .value{color:var(--bad)}
.na .value{color:var(--na)}
.state{margin:0 0 6px}
.pill{font-size:12px;font-weight:600;padding:1px 8px;border-radius:10px;white-space:nowrap}
.pill .en{color:inherit;font-weight:400}
.ok .pill{background:#e6f4ea;color:var(--ok)}
.bad .pill{background:#fdecea;color:var(--bad)}
.na .pill{background:#eceff3;color:var(--mute)}
.frac,.points{margin:0;color:var(--mute);font-size:12px}
.frac .en{white-space:nowrap}
.frac b,.points b{color:var(--ink);font-variant-numeric:tabular-nums}
.bar{position:relative;height:8px;background:#e6eaef;border-radius:4px;margin:10px 0 6px}
.bar i{position:absolute;left:0;top:0;bottom:0;border-radius:4px;background:var(--na)}
.ok .bar i{background:var(--ok)}
.bad .bar i{background:var(--bad)}
.bar b{position:absolute;top:-3px;bottom:-3px;width:2px;margin-left:-2px;background:var(--ink)}
.verdict{margin:0 0 2px;font-size:12px}
section{margin-top:22px}
.groups section{margin-top:0}
.panel{background:#fff;border:1px solid var(--line);border-radius:6px;overflow:hidden}
table{border-collapse:collapse;width:100%;font-size:13px}
th{background:#eef2f6;text-align:left;font-weight:600;padding:7px 10px;border-bottom:1px solid var(--line);
white-space:nowrap;vertical-align:bottom}
th .en{display:block}
td{padding:6px 10px;border-bottom:1px solid #edf0f3;vertical-align:top}
tbody tr:last-child td{border-bottom:0}
tbody tr:hover{background:#f8fafc}
tr.down td:first-child{box-shadow:inset 3px 0 var(--bad)}
.code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;white-space:nowrap}
.dot{font-size:15px;line-height:1}
.dot.on{color:var(--ok)}
.dot.off{color:var(--bad)}
.dot.na{color:var(--na)}
time,.nw{white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums}
small,.muted,.why{color:var(--mute)}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;white-space:nowrap;
background:#e6f4ea;color:var(--ok)}
.badge.exempt,.badge.key{background:#eceff3;color:var(--mute)}
.empty{color:var(--mute);text-align:center;padding:14px}
.split{display:grid;grid-template-columns:3fr 2fr;gap:20px;margin-top:22px}
.split section{margin-top:0}
.summary{margin:0 0 8px;color:var(--mute)}
.summary b{color:var(--ink)}
.links ul{margin:0;padding:12px 16px 6px 34px}
.links li{margin:5px 0}
.note{font-size:12px;color:var(--mute);padding:4px 16px 12px;margin:0}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.92em}
a{color:#0b5cad}
.stale-note{display:none;margin-left:8px;background:#fdecea;color:var(--bad);padding:1px 8px;
border-radius:4px}
.stale .stale-note{display:inline-block}
@media (max-width:1000px){.groups,.split{grid-template-columns:1fr}.g3 .cards{grid-template-columns:1fr 1fr}}
"""

#: Without JavaScript the <noscript> meta refresh reloads the page; with it, this swaps in a freshly
#: rendered copy (same markup, scroll position kept) and flags the page stale while the hub is away.
SCRIPT = f"""
setInterval(async () => {{
  try {{
    const answer = await fetch(location.pathname, {{cache: "no-store"}});
    if (!answer.ok) throw new Error(String(answer.status));
    const fresh = new DOMParser().parseFromString(await answer.text(), "text/html");
    document.getElementById("live").replaceWith(fresh.getElementById("live"));
    document.body.classList.remove("stale");
  }} catch (_) {{
    document.body.classList.add("stale");
  }}
}}, {REFRESH_SECONDS * 1000});
"""

"""The page at /me: a person signs in with their identity provider's token and sees who read their data.

Static: the page holds nothing of anyone; its script asks GET /api/v1/me/accesses with the token in the
Authorization header. The token comes from the URL's fragment (`/me#token=...`, which browsers never
send to a server, so it reaches no access log; the script drops it from the address bar at once) or is
pasted in the form, and is kept in the page's memory only. Every value is written as text, never as HTML.
"""

import base64
import hashlib

_STYLE = """
:root{--ok:#1a7f37;--bad:#c62828;--ink:#1f2933;--mute:#5f6b7a;--line:#e1e5ea;--bg:#f3f5f8;--brand:#0b3a66}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;
color:var(--ink);background:var(--bg)}
header{background:var(--brand);color:#fff;padding:14px 28px}
header h1{margin:0;font-size:20px;font-weight:600}
header p{margin:2px 0 0;color:#d3deea;font-size:13px}
main{max-width:1280px;margin:0 auto;padding:18px 28px}
.en{color:var(--mute);font-size:.86em;font-weight:400;display:block}
header .en{color:#a9bdd2}
form{background:#fff;border:1px solid var(--line);border-radius:6px;padding:12px 16px;display:grid;
grid-template-columns:1fr auto auto auto;gap:10px;align-items:end}
label{font-weight:600;font-size:13px}
textarea{width:100%;height:3.2em;font:12px ui-monospace,Menlo,Consolas,monospace}
button{padding:6px 14px;border:1px solid var(--brand);background:var(--brand);color:#fff;border-radius:4px;
cursor:pointer}
button.quiet{background:#fff;color:var(--brand)}
#status{margin:12px 0;color:var(--mute)}
#status.error{color:var(--bad)}
.panel{background:#fff;border:1px solid var(--line);border-radius:6px;overflow:auto;margin-top:8px}
table{border-collapse:collapse;width:100%;font-size:13px}
th{background:#eef2f6;text-align:left;font-weight:600;padding:7px 10px;border-bottom:1px solid var(--line);
vertical-align:bottom}
td{padding:6px 10px;border-bottom:1px solid #edf0f3;vertical-align:top}
tr.fault td:last-child{color:var(--bad)}
tr.success td:last-child{color:var(--ok)}
.code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
.tools{display:flex;gap:10px;justify-content:space-between;align-items:center;margin-top:14px}
"""

_SCRIPT = """
(function () {
  "use strict";
  var token = "";
  var form = document.getElementById("signin");
  var field = document.getElementById("token");
  var start = document.getElementById("from");
  var end = document.getElementById("to");
  var status = document.getElementById("status");
  var body = document.querySelector("#accesses tbody");
  var OUTCOMES = {
    success: ["Đã trả lời", "Answered"],
    fault: ["Bị từ chối hoặc lỗi", "Refused or failed"],
    pending: ["Đang xử lý", "Pending"]
  };

  function say(vi, en, error) {
    status.textContent = "";
    status.className = error ? "error" : "";
    status.append(vi);
    var small = document.createElement("span");
    small.className = "en";
    small.textContent = en;
    status.append(small);
  }

  function cell(row, main, english, code) {
    var td = document.createElement("td");
    td.textContent = main == null || main === "" ? "—" : main;
    if (english) {
      var small = document.createElement("span");
      small.className = "en";
      small.textContent = english;
      td.append(small);
    }
    if (code) {
      var tag = document.createElement("span");
      tag.className = "en code";
      tag.textContent = code;
      td.append(tag);
    }
    row.append(td);
    return td;
  }

  function period() {
    var query = new URLSearchParams();
    if (start.value) query.set("from", start.value);
    if (end.value) query.set("to", end.value);
    return query;
  }

  async function ask(path, query) {
    var response = await fetch(path + "?" + query, {
      headers: {Authorization: "Bearer " + token}, cache: "no-store"
    });
    if (!response.ok) {
      var reason = "";
      try { reason = (await response.json()).error.message; }
      catch (ignored) { reason = response.statusText; }
      throw new Error(response.status + " " + reason);
    }
    return response;
  }

  async function everyAccess() {
    var items = [], total = 0, page;
    do {
      var query = period();
      query.set("limit", "1000");
      query.set("offset", String(items.length));
      page = await (await ask("/api/v1/me/accesses", query)).json();
      items = items.concat(page.items);
      total = page.total;
    } while (items.length < total && page.items.length > 0);
    return items;
  }

  function show(items) {
    body.textContent = "";
    items.forEach(function (access) {
      var row = document.createElement("tr");
      row.className = access.outcome;
      row.dataset.exchange = access.exchange_id;
      row.dataset.purpose = access.purpose || "";
      var when = cell(row, new Date(access.at).toLocaleString("vi-VN", {timeZone: "Asia/Ho_Chi_Minh"}));
      when.title = access.at;
      cell(row, access.agency_name || access.agency, access.system_name || access.system, access.system);
      cell(row, access.holder_name || access.holder, access.holder_agency_name, access.holder);
      cell(row, access.service_description || access.service, null, access.service);
      cell(row, access.purpose_vi || "Không ghi mục đích", access.purpose_en || "No purpose given",
        access.purpose);
      var outcome = OUTCOMES[access.outcome] || [access.outcome, access.outcome];
      cell(row, outcome[0], outcome[1], access.fault_code);
      body.append(row);
    });
    document.getElementById("count").textContent = String(items.length);
    say(items.length + " lượt truy cập dữ liệu của bạn.", items.length + " accesses to your data.", false);
  }

  async function load() {
    if (!token) { say("Hãy đăng nhập bằng mã VNeID.", "Sign in with your VNeID token.", false); return; }
    say("Đang tải…", "Loading…", false);
    try { show(await everyAccess()); }
    catch (error) {
      body.textContent = "";
      say("Không xem được: " + error.message, "Could not show your accesses: " + error.message, true);
    }
  }

  async function download() {
    try {
      var blob = await (await ask("/api/v1/me/accesses.csv", period())).blob();
      var link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = "truy-cap-du-lieu.csv";
      link.click();
      setTimeout(function () { URL.revokeObjectURL(link.href); }, 1000);
    } catch (error) {
      say("Không tải được: " + error.message, "Could not download: " + error.message, true);
    }
  }

  var fragment = /(?:^|&)token=([^&]+)/.exec(location.hash.slice(1));
  if (fragment) {
    token = decodeURIComponent(fragment[1]);
    history.replaceState(null, "", location.pathname + location.search);
  }
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (field.value.trim()) { token = field.value.trim(); field.value = ""; }
    load();
  });
  document.getElementById("csv").addEventListener("click", download);
  document.getElementById("signout").addEventListener("click", function () {
    token = "";
    body.textContent = "";
    document.getElementById("count").textContent = "0";
    say("Đã đăng xuất.", "Signed out.", false);
  });
  load();
})();
"""

PAGE = f"""<!doctype html>
<html lang="vi">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Dữ liệu của tôi · My data — LGSP</title>
<style>{_STYLE}</style>
</head>
<body>
<header>
<h1>Ai đã sử dụng dữ liệu của tôi?<span class="en">Who has used my data?</span></h1>
<p>Mọi lượt cơ quan nhà nước hỏi dữ liệu về bạn qua trục LGSP, với mục đích và kết quả.
<span class="en">Every request a state agency made about you through the LGSP, with its purpose and
outcome.</span></p>
</header>
<main>
<form id="signin" autocomplete="off">
<div><label for="token">Mã xác thực VNeID<span class="en">Your VNeID sign-in token</span></label>
<textarea id="token" spellcheck="false" placeholder="eyJ…"></textarea></div>
<div><label for="from">Từ ngày<span class="en">From</span></label><input type="date" id="from"></div>
<div><label for="to">Đến trước ngày<span class="en">Until (not included)</span></label>
<input type="date" id="to"></div>
<div><button type="submit">Xem<span class="en">Show</span></button></div>
</form>
<p id="status" role="status"></p>
<div class="tools">
<span><b id="count">0</b> lượt truy cập <span class="en">accesses</span></span>
<span><button type="button" class="quiet" id="csv">Tải về CSV · Download CSV</button>
<button type="button" class="quiet" id="signout">Đăng xuất · Sign out</button></span>
</div>
<div class="panel">
<table id="accesses">
<thead><tr>
<th>Thời gian<span class="en">When</span></th>
<th>Cơ quan, hệ thống hỏi<span class="en">Who asked</span></th>
<th>Nơi giữ dữ liệu<span class="en">Holder asked</span></th>
<th>Dữ liệu<span class="en">Kind of data</span></th>
<th>Mục đích<span class="en">Purpose</span></th>
<th>Kết quả<span class="en">Outcome</span></th>
</tr></thead>
<tbody></tbody>
</table>
</div>
</main>
<script>{_SCRIPT}</script>
</body>
</html>
"""


def _source(text: str) -> str:
    """A Content-Security-Policy source allowing exactly this inline script or style sheet."""
    return f"'sha256-{base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()}'"


#: The page's headers: nothing cached, no referrer, and a policy that runs only its own script and style
#: (by their hashes), lets it fetch from the hub alone, submit nowhere and be framed by nobody.
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": f"default-src 'none'; script-src {_source(_SCRIPT)};"
    f" style-src {_source(_STYLE)}; connect-src 'self'; form-action 'none'; base-uri 'none';"
    " frame-ancestors 'none'",
}

"""The approvals page's HTML: server-rendered Jinja2 templates (autoescaped), plain forms, no JavaScript."""

from __future__ import annotations

from jinja2 import DictLoader, Environment, select_autoescape

__all__ = ["render"]

_BASE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{% block title %}Vibe approvals{% endblock %}</title>
<style>
 body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d232b;background:#f3f5f8;margin:0}
 header{background:#1d2b3a;color:#fff;padding:.8em 1.5em;display:flex;justify-content:space-between;align-items:center}
 header h1{font-size:1.15em;margin:0} header form{margin:0}
 main{max-width:62em;margin:1.5em auto;padding:0 1em}
 .card{background:#fff;border:1px solid #d5dbe3;border-radius:8px;padding:1em 1.3em;margin:0 0 1.2em}
 .card h2{font-size:1.1em;margin:.1em 0 .6em} .muted{color:#5b6673}
 table.facts{border-collapse:collapse;width:100%;margin:.4em 0 .8em}
 table.facts th{text-align:left;vertical-align:top;width:9em;color:#5b6673;font-weight:600;padding:.25em .6em .25em 0}
 table.facts td{padding:.25em 0;vertical-align:top} ul{margin:0;padding-left:1.2em}
 pre{background:#f6f8fa;border:1px solid #e1e6ec;border-radius:6px;padding:.6em .8em;white-space:pre-wrap;margin:.3em 0}
 code{background:#eef1f5;border-radius:4px;padding:.05em .35em;font-size:.92em;word-break:break-all}
 textarea{width:100%;box-sizing:border-box;font:13px monospace;min-height:4.2em;margin:.3em 0}
 .decide{display:grid;grid-template-columns:1fr 1fr;gap:1em;margin-top:.6em}
 .decide form{border:1px solid #e1e6ec;border-radius:6px;padding:.6em .8em;min-width:0}
 .decide pre{overflow-wrap:anywhere;font-size:.88em}
 button{font:inherit;font-weight:600;border:0;border-radius:6px;padding:.45em 1.2em;cursor:pointer}
 .approve{background:#1f7a3d;color:#fff} .reject{background:#b42318;color:#fff} .plain{background:#e4e8ee}
 .flash{border-radius:8px;padding:.8em 1.2em;margin:0 0 1.2em}
 .ok{background:#e6f4ea;border:1px solid #9cd3ae} .err{background:#fdecea;border:1px solid #f1a8a0}
 .tag{display:inline-block;border-radius:999px;padding:0 .6em;font-size:.85em;background:#fff4d6;border:1px solid #f0d27a}
</style></head>
<body><header><h1>Vibe · approval requests</h1>
{% if approver %}<form method="post" action="/logout"><span>signed in as <b>{{ approver }}</b></span>
<input type="hidden" name="csrf" value="{{ csrf }}"> <button class="plain" type="submit">Sign out</button></form>{% endif %}
</header><main>
{% if flash %}<div class="flash {{ flash.kind }}" role="status">{{ flash.text }}{% if flash.command %}<br>
<code>{{ flash.command }}</code>{% endif %}</div>{% endif %}
{% block body %}{% endblock %}
</main></body></html>
"""

_LOGIN = """{% extends "base" %}{% block title %}Sign in · Vibe approvals{% endblock %}{% block body %}
<div class="card"><h2>Sign in with your approver key</h2>
<p>Only approvers named in the policy in force may sign in. On your machine, sign this one-time challenge with
the key <code>vibe approvals keygen</code> made for you, and paste the token below.</p>
<pre>vibe approvals login-token {{ challenge }} --as YOUR_NAME</pre>
<form method="post" action="/login">
<input type="hidden" name="challenge" value="{{ challenge }}">
<label for="token">Login token</label>
<textarea id="token" name="token" required placeholder="vl1...."></textarea>
<button class="approve" type="submit">Sign in</button>
</form><p class="muted">The challenge is valid for {{ minutes }} minutes and works once. The server never sees
your private key.</p></div>
{% endblock %}"""

_INDEX = """{% extends "base" %}{% block body %}
{% if not requests %}<div class="card"><h2>Nothing waits for a decision</h2>
<p class="muted">Requests the agent files appear here until they are decided or expire.</p></div>{% endif %}
{% for r in requests %}
<div class="card" id="request-{{ r.id }}">
<h2>{{ r.action.kind }} <span class="muted">· request {{ r.id }}</span> <span class="tag">{{ r.status }}</span></h2>
<table class="facts">
<tr><th>Requester</th><td>{{ r.requester }}{% if r.action.team %} (team {{ r.action.team }}){% endif %}</td></tr>
<tr><th>Agent thread</th><td><code>{{ r.thread_id }}</code></td></tr>
<tr><th>Filed</th><td>{{ r.created.strftime("%Y-%m-%d %H:%M") }} UTC, expires {{ r.expires.strftime("%Y-%m-%d %H:%M") }} UTC</td></tr>
<tr><th>Cost</th><td>{% if r.cost.gpu_hours is not none %}{{ "%.3g"|format(r.cost.gpu_hours) }} GPU-hours {% endif %}
{% if r.cost.cpu_hours is not none %}{{ "%.3g"|format(r.cost.cpu_hours) }} CPU core-hours{% endif %}
{% if r.cost.gpu_hours is none and r.cost.cpu_hours is none and not r.cost.note %}<span class="muted">not stated</span>{% endif %}
{% if r.cost.note %}<div class="muted">{{ r.cost.note }}</div>{% endif %}</td></tr>
<tr><th>Data touched</th><td>{% if r.data_touched %}<ul>{% for p in r.data_touched %}<li><code>{{ p }}</code></li>{% endfor %}</ul>{% else %}none{% endif %}</td></tr>
{% if r.action.parameters %}<tr><th>Model</th><td>{{ "{:,}".format(r.action.parameters) }} parameters{% if r.action.architecture %}, {{ r.action.architecture }}{% endif %}</td></tr>{% endif %}
<tr><th>Why approval</th><td><ul>{% for n in r.rules %}<li><b>{{ n.rule }}</b> (approvers: {{ n.groups|join(", ") }}): {{ n.reason }}</li>{% endfor %}</ul></td></tr>
{% if r.decisions %}<tr><th>Decided so far</th><td><ul>{% for d in r.decisions %}<li>{{ d.signed.decision }} by {{ d.signed.approver }} at {{ d.signed.time.strftime("%Y-%m-%d %H:%M") }}{% if d.signed.reason %}: {{ d.signed.reason }}{% endif %}</li>{% endfor %}</ul></td></tr>{% endif %}
</table>
<details open><summary>Plan</summary><pre>{{ r.summary }}</pre></details>
{% set why_not = blocked[r.id] %}
{% if why_not %}<p class="muted" data-role="not-eligible">{{ why_not }}</p>
{% else %}
<div class="decide">
<form method="post" action="/requests/{{ r.id }}/decide">
<input type="hidden" name="csrf" value="{{ csrf }}"><input type="hidden" name="verdict" value="approve">
<label for="approve-{{ r.id }}">Sign your approval on your machine and paste it:</label>
<pre>vibe approvals sign {{ r.id }} --hash {{ r.request_hash }} --as {{ approver }}</pre>
<textarea id="approve-{{ r.id }}" name="token" required placeholder="vd1...."></textarea>
<button class="approve" type="submit">Approve</button>
</form>
<form method="post" action="/requests/{{ r.id }}/decide">
<input type="hidden" name="csrf" value="{{ csrf }}"><input type="hidden" name="verdict" value="reject">
<label for="reject-{{ r.id }}">Or sign a rejection, with the reason the requester will read:</label>
<pre>vibe approvals sign {{ r.id }} --hash {{ r.request_hash }} --as {{ approver }} --reject --reason "..."</pre>
<textarea id="reject-{{ r.id }}" name="token" required placeholder="vd1...."></textarea>
<button class="reject" type="submit">Reject</button>
</form>
</div>{% endif %}
</div>
{% endfor %}
{% endblock %}"""

_ENV = Environment(
    loader=DictLoader({"base": _BASE, "login": _LOGIN, "index": _INDEX}),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(template: str, **context: object) -> str:
    """The page ``template`` (base, login or index) with ``context``; every value is HTML-escaped."""
    return _ENV.get_template(template).render(**context)

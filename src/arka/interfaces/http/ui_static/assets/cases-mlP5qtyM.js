import{A as e,C as t,D as n,E as r,S as i,T as a,_ as o,b as s,c,d as l,g as u,h as d,i as f,k as p,l as m,m as h,n as g,o as _,p as v,r as y,s as b,t as x,v as S,w as ee,x as C}from"./index-B_9NrWpN.js";import{a as w,i as T}from"./filters-CqXm5LSr.js";var E=[`open`,`in_review`,`escalated`,`pending_approval`,`closed`],D=[`low`,`medium`,`high`,`critical`],O=[`false_positive`,`true_positive`,`sar_filed`,`no_action`],k=[`true_positive`,`sar_filed`],A=[`open`,`in_review`,`escalated`],j={assign:{needs:`cases:work`,in:A},claim:{needs:`cases:work`,in:A},release:{needs:`cases:work`,in:A,assigned:!0},comment:{needs:`cases:work`,in:E},escalate:{needs:`cases:work`,in:A},close:{needs:`cases:close`,in:A},approve:{needs:`cases:close`,in:[`pending_approval`]},reject:{needs:`cases:close`,in:[`pending_approval`]},reopen:{needs:`cases:close`,in:[`closed`]}};function M(e,t){return Object.entries(j).filter(([,n])=>n.in.includes(e.status)&&(!n.assigned||e.assignee)&&t(n.needs)).map(([e])=>e)}function N(e){let t=Math.floor(Math.abs(e)/6e4);if(t<1)return`< 1 min`;let n=Math.floor(t/1440),r=Math.floor(t%1440/60),i=t%60;return n?r?`${n} d ${r} h`:`${n} d`:r?i?`${r} h ${i} min`:`${r} h`:`${i} min`}function te(e,t=Date.now()){if(e.status===`closed`)return{state:`closed`,text:`Closed`};if(!e.due_at)return{state:`none`,text:`No due time`};let n=Date.parse(e.due_at);if(Number.isNaN(n))return{state:`due`,text:`Due ${e.due_at}`};let r=n-t;return e.sla_breached||r<0?{state:`breached`,text:`SLA breached: overdue by ${N(r)}`}:{state:`due`,text:`Due in ${N(r)}`}}var P=[`status`,`queue`,`assignee`,`entity_id`,`from`,`to`];function ne(e,t){let n={page:Math.max(1,Number(e.page)||1),per_page:t};for(let t of P)e[t]&&(n[t]=e[t]);return n}function re(e,t,n){let r={action:e};for(let[e,n]of Object.entries(t||{})){let t=typeof n==`string`?n.trim():n;t!==``&&t!=null&&(r[e]=t)}return Number.isInteger(n)&&(r.expected_version=n),r}var ie=e=>(e.charAt(0).toUpperCase()+e.slice(1)).replaceAll(`_`,` `);function F(e){let t=e.details||{},n=[],r=(e,t)=>{t!=null&&t!==``&&(!Array.isArray(t)||t.length)&&n.push([e,Array.isArray(t)?t.join(`, `):String(t)])};switch(e.action){case`opened`:r(`Queue`,t.queue),r(`Priority`,t.priority),r(`Due`,t.due_at),r(`Entity`,t.entity_id),r(`Group`,t.assignee_group),r(`Triggers`,t.triggers),r(`Evaluations`,t.evaluation_ids),r(`Reason`,t.reason);break;case`evaluation_added`:r(`Evaluations`,t.evaluation_ids||t.evaluation_id),r(`Priority`,t.priority),r(`Due`,t.due_at);break;case`comment`:r(`Text`,t.text);break;case`attachment_added`:r(`File`,t.name),r(`Type`,t.media_type),r(`Bytes`,t.bytes),r(`SHA-256`,t.sha256);break;default:{let e={assignee:`Assignee`,assignee_group:`Group`,reason:`Reason`,queue:`Queue`,priority:`Priority`,disposition:`Disposition`,note:`Note`,status:`Status`};for(let[n,i]of Object.entries(t))(typeof i!=`object`||!i||Array.isArray(i))&&r(e[n]||ie(n),i)}}return n}function I(e){let t=[];for(let n of e||[]){let e=n.details||{},r=n.action===`comment`?e.text:e.note||e.reason;r&&[`comment`,`escalate`,`close`,`close_requested`,`approve`,`reject`,`reopen`].includes(n.action)&&t.push({id:n.id,at:n.at,actor:n.actor,action:n.action,text:r})}return t}function L(e){return typeof e==`number`?e<1024?`${e} B`:e<1048576?`${(e/1024).toFixed(1)} KiB`:`${(e/1024/1024).toFixed(1)} MiB`:`—`}var R=25,z=e=>s(`/cases/${i(e)}`);function B({c:e}){let n=te(e),r=n.state===`breached`?`bad`:n.state===`closed`?`muted`:`neutral`;return t`<span class=${`sla sla-${n.state}`}>
    ${n.state===`breached`?t`<${x} value="SLA breached" tone="bad" /> `:null}
    <span class=${r===`muted`?`muted`:``}>${n.state===`breached`?n.text.replace(`SLA breached: `,``):n.text}</span>
    ${e.due_at&&n.state!==`closed`?t`<br /><small class="muted">due${` `}
      <time datetime=${e.due_at}>${u(e.due_at)}</time></small>`:null}
  </span>`}function V({queues:e,current:n}){return t`<${l} caption="Queues: open work and SLA" columns=${[{key:`queue`,label:`Queue`,render:e=>t`<a href=${s(`/cases`,{queue:e.queue})}
        aria-current=${n===e.queue?`true`:void 0}>${e.queue}</a>`},{key:`open`,label:`Open`,className:`num`},{key:`in_review`,label:`In review`,className:`num`},{key:`escalated`,label:`Escalated`,className:`num`},{key:`pending_approval`,label:`Pending approval`,className:`num`},{key:`sla_breached`,label:`SLA breaches`,className:`num`,render:e=>e.sla_breached?t`<${x} value=${`${e.sla_breached} breached`} tone="bad" />`:t`<span class="muted">none</span>`},{key:`oldest_due_at`,label:`Oldest due`,render:e=>e.oldest_due_at?t`<time datetime=${e.oldest_due_at}>${u(e.oldest_due_at)}</time>`:t`<span class="muted">—</span>`}]} rows=${e}
    rowKey=${e=>e.queue} />`}var H=[{key:`id`,label:`Case`,render:e=>t`<a href=${z(e.id)}
      onClick=${e=>e.stopPropagation()}><code>${e.id}</code></a>`},{key:`status`,label:`Status`,render:e=>t`<${x} value=${e.status} />`},{key:`queue`,label:`Queue`},{key:`priority`,label:`Priority`,render:e=>t`<${x} value=${e.priority}
      tone=${e.priority===`critical`||e.priority===`high`?`bad`:`neutral`} />`},{key:`entity_id`,label:`Entity`,render:e=>e.entity_id?t`<code>${e.entity_id}</code>`:t`<span class="muted">—</span>`},{key:`assignee`,label:`Assignee`,render:e=>e.assignee||t`<span class="muted">
      ${e.assignee_group?`group ${e.assignee_group}`:`nobody`}</span>`},{key:`sla`,label:`SLA`,render:e=>t`<${B} c=${e} />`},{key:`opened_at`,label:`Opened`,render:e=>t`<time datetime=${e.opened_at}>
      ${u(e.opened_at)}</time>`}];function U({query:r,onApply:i}){let a=()=>({status:r.status||``,queue:r.queue||``,assignee:r.assignee||``,entity_id:r.entity_id||``,from:T(r.from),to:T(r.to)}),[o,s]=e(a);n(()=>s(a()),[P.map(e=>r[e]||``).join(`\0`)]);let c=e=>t=>s({...o,[e]:t.currentTarget.value}),l=e=>{e.preventDefault(),i({status:o.status,queue:o.queue.trim(),assignee:o.assignee.trim(),entity_id:o.entity_id.trim(),from:w(o.from),to:w(o.to,!0)})},u=S.get()?.person,d=P.some(e=>r[e]);return t`<form class="filters case-filters" role="search" aria-label="Filter cases"
      onSubmit=${l}>
    <${f} id="cf-status" label="Status">
      <select id="cf-status" value=${o.status} onChange=${c(`status`)}>
        <option value="">Any</option>
        ${E.map(e=>t`<option value=${e}>${e.replaceAll(`_`,` `)}</option>`)}
      </select><//>
    <${f} id="cf-queue" label="Queue">
      <input id="cf-queue" type="text" value=${o.queue} onInput=${c(`queue`)} maxlength="128" /><//>
    <${f} id="cf-assignee" label="Assignee">
      <input id="cf-assignee" type="text" value=${o.assignee} onInput=${c(`assignee`)}
        maxlength="256" /><//>
    <${f} id="cf-entity" label="Entity">
      <input id="cf-entity" type="text" value=${o.entity_id} onInput=${c(`entity_id`)}
        maxlength="256" placeholder="customer id" /><//>
    <${f} id="cf-from" label="Opened from">
      <input id="cf-from" type="datetime-local" value=${o.from} onInput=${c(`from`)}
        aria-describedby="cf-utc" /><//>
    <${f} id="cf-to" label="Opened to">
      <input id="cf-to" type="datetime-local" value=${o.to} onInput=${c(`to`)}
        aria-describedby="cf-utc" /><//>
    <div class="filter-buttons">
      <button type="submit" class="primary">Apply filters</button>
      ${u?t`<button type="button" onClick=${()=>i({...r,page:void 0,assignee:u})}>Assigned to me</button>`:null}
      ${d?t`<button type="button" onClick=${()=>i({})}>Clear filters</button>`:null}
    </div>
    <small id="cf-utc" class="muted">Times are UTC, both ends included.</small>
  </form>`}function W({query:e}){let n=Math.max(1,Number(e.page)||1),r=JSON.stringify(ne(e,R)),o=d(()=>a(`/api/v1/cases`,JSON.parse(r)),[r]),s=d(()=>a(`/api/v1/queues`),[]),u=P.some(t=>e[t]),f=e=>C(`/cases`,{...e,page:void 0}),p=t=>C(`/cases`,{...e,page:t>1?t:void 0}),h=()=>{o.reload(),s.reload()},v=o.data,x;return x=o.error?t`<${y} error=${o.error} title="The cases could not be read" />`:v?v.items.length?t`<${l} caption="Cases" columns=${H} rows=${v.items}
      rowKey=${e=>e.id} onRow=${e=>C(`/cases/${i(e.id)}`)} />
      ${u?t`<p class="muted small">Filtered: ${P.filter(t=>e[t]).map(t=>`${t.replace(`_id`,``)} ${e[t]}`).join(`, `)}.</p>`:null}`:t`<${g}>${u?`No case matches these filters.`:n>1?`No cases on this page.`:`No cases yet: they open when evaluations escalate.`}<//>`:t`<${b} what="Loading cases" />`,t`<${c} title="Cases" wide
      actions=${t`<button type="button" onClick=${h}>Reload</button>`}>
    <h2 id="queues-h">Queues</h2>
    <${_} state=${s} isEmpty=${e=>!e.items.length}
        empty="No queue holds a case yet.">
      ${n=>t`<${V} queues=${n.items} current=${e.queue} />`}
    <//>
    <h2>Case list</h2>
    <${U} query=${e} onApply=${f} />
    ${o.loading&&v?t`<${b} what="Refreshing" />`:null}
    ${x}
    ${v&&(v.items.length||n>1)?t`<${m} page=${n} perPage=${v.per_page}
      total=${v.total} onPage=${p} />`:null}
  <//>`}var G={assign:`Assigned`,claim:`Claimed`,release:`Released`,comment:`Comment added`,escalate:`Escalated`,close:`Closing recorded`,approve:`Closing approved`,reject:`Closing rejected`,reopen:`Reopened`};function K(t,n){let[a,o]=e(null),[s,c]=e(null);return{busy:a,error:s,run:async(e,a={})=>{o(e),c(null);try{let o=await r(`/api/v1/cases/${i(t.id)}/actions`,re(e,a,t.version));return n(o,`${e===`close`&&o.status===`pending_approval`?`Closing requested: another person must approve it (four-eyes)`:G[e]}.`),!0}catch(e){return c(e),!1}finally{o(null)}},clear:()=>c(null)}}function q({id:e,label:n,value:r,onInput:i,required:a=!0,min:o=3,hint:s}){return t`<${f} id=${e} label=${n} hint=${s}>
    <textarea id=${e} rows="3" value=${r} onInput=${e=>i(e.currentTarget.value)}
      required=${a} minlength=${a?o:void 0} maxlength="4000"></textarea><//>`}function J({title:n,action:r,button:i,danger:a,initial:o,fields:s,act:c,describe:l}){let[u,d]=e(o),f=e=>t=>d({...u,[e]:t}),p=async e=>{e.preventDefault();let t={...u};t.disposition===`__other`&&(t.disposition=t.other||``),delete t.other,await c.run(r,t)&&d(o)},m=`case-act-${r}`;return t`<form class="case-action panel" aria-labelledby=${`${m}-h`} onSubmit=${p}>
    <h3 id=${`${m}-h`}>${n}</h3>
    ${l?t`<p class="muted small">${l}</p>`:null}
    ${s(u,f)}
    <button type="submit" class=${a?`danger`:`primary`} disabled=${!!c.busy}>
      ${c.busy===r?`Working…`:i}</button>
  </form>`}function Y({c:e}){let n=e.pending_close;if(!n)return null;let r=n.requested_by&&n.requested_by===S.get()?.person;return t`<div class="panel case-pending" role="note" aria-label="Closing waiting for approval">
    <strong>Closing waiting for a second person:</strong> ${n.disposition?.replaceAll(`_`,` `)}${` `}
    requested by ${n.requested_by||`—`}${n.requested_at?` at ${u(n.requested_at)}`:``}.
    <p>Reason: ${n.reason}</p>
    ${r?t`<p class="muted small">You requested this closing: the API lets only
      another person approve or reject it.</p>`:null}
  </div>`}function ae({c:e,onDone:n}){let r=K(e,n),i=M(e,o),a=e=>i.includes(e),s=S.get()?.person;return i.length?t`<div class="case-actions">
    <${Y} c=${e} />
    <${y} error=${r.error} title="The action was refused" />
    ${r.error?.status===409?t`<p class="muted small">Reload the case to see its
      current state, then try again.</p>`:null}
    ${a(`claim`)||a(`release`)?t`<div class="row case-quick" role="group"
        aria-label="Assignment">
      ${a(`claim`)&&e.assignee!==s?t`<button type="button" class="primary"
        disabled=${!!r.busy} onClick=${()=>r.run(`claim`)}>Claim</button>`:null}
      ${a(`release`)?t`<button type="button" disabled=${!!r.busy}
        onClick=${()=>r.run(`release`)}>Release</button>`:null}
      <span class="muted small">Assignee: ${e.assignee||`nobody`}${e.assignee_group?` (group ${e.assignee_group})`:``}</span>
    </div>`:null}
    <div class="grid case-forms">
      ${a(`comment`)?t`<${J} title="Add a comment" action="comment" button="Comment"
        act=${r} initial=${{text:``}} fields=${(e,n)=>t`<${f} id="ca-comment"
          label="Comment text"><textarea id="ca-comment" rows="3" value=${e.text} required
            maxlength="4000" onInput=${e=>n(`text`)(e.currentTarget.value)}></textarea><//>`} />`:null}
      ${a(`assign`)?t`<${J} title="Assign" action="assign" button="Assign"
        act=${r} initial=${{assignee:``,assignee_group:``}}
        describe="A person, a group, or both."
        fields=${(e,n)=>t`
          <${f} id="ca-assignee" label="Assignee"><input id="ca-assignee" type="text"
            value=${e.assignee} maxlength="256" onInput=${e=>n(`assignee`)(e.currentTarget.value)} /><//>
          <${f} id="ca-group" label="Assignee group"><input id="ca-group" type="text"
            value=${e.assignee_group} maxlength="128"
            onInput=${e=>n(`assignee_group`)(e.currentTarget.value)} /><//>`} />`:null}
      ${a(`escalate`)?t`<${J} title="Escalate" action="escalate" button="Escalate"
        act=${r} initial=${{reason:``,queue:``,priority:``}}
        fields=${(n,r)=>t`
          <${q} id="ca-esc-reason" label="Escalation reason" value=${n.reason} onInput=${r(`reason`)} />
          <${f} id="ca-esc-queue" label="To queue" hint="Empty: stays in this queue">
            <input id="ca-esc-queue" type="text" value=${n.queue} maxlength="128"
              onInput=${e=>r(`queue`)(e.currentTarget.value)} /><//>
          <${f} id="ca-esc-priority" label="Priority">
            <select id="ca-esc-priority" value=${n.priority}
              onChange=${e=>r(`priority`)(e.currentTarget.value)}>
              <option value="">Keep (${e.priority})</option>
              ${D.map(e=>t`<option value=${e}>${e}</option>`)}
            </select><//>`} />`:null}
      ${a(`close`)?t`<${J} title="Close the case" action="close" button="Close case"
        danger act=${r} initial=${{disposition:``,other:``,reason:``}}
        describe="A decision and its reason are both required; with four-eyes on, some decisions wait for a second person."
        fields=${(e,n)=>t`
          <${f} id="ca-close-disp" label="Decision">
            <select id="ca-close-disp" value=${e.disposition} required
              onChange=${e=>n(`disposition`)(e.currentTarget.value)}>
              <option value="">Choose…</option>
              ${O.map(e=>t`<option value=${e}>${e.replaceAll(`_`,` `)}</option>`)}
              <option value="__other">other (configured)…</option>
            </select><//>
          ${e.disposition===`__other`?t`<${f} id="ca-close-other" label="Other decision"
            hint="As configured in cases.dispositions, e.g. no_action">
            <input id="ca-close-other" type="text" value=${e.other} required pattern="[a-z][a-z0-9_]*"
              maxlength="64" onInput=${e=>n(`other`)(e.currentTarget.value)} /><//>`:null}
          <${q} id="ca-close-reason" label="Closing reason" value=${e.reason} onInput=${n(`reason`)} />`} />`:null}
      ${a(`approve`)?t`<${J} title="Approve the closing" action="approve"
        button="Approve closing" act=${r} initial=${{note:``}}
        fields=${(e,n)=>t`<${q} id="ca-approve-note" label="Approval note (optional)"
          required=${!1} value=${e.note} onInput=${n(`note`)} />`} />`:null}
      ${a(`reject`)?t`<${J} title="Reject the closing" action="reject" danger
        button="Reject closing" act=${r} initial=${{note:``}}
        describe="The case goes back in review."
        fields=${(e,n)=>t`<${q} id="ca-reject-note" label="Rejection note" min=${1}
          value=${e.note} onInput=${n(`note`)} />`} />`:null}
      ${a(`reopen`)?t`<${J} title="Reopen" action="reopen" button="Reopen"
        act=${r} initial=${{reason:``}} describe="The decision is cleared."
        fields=${(e,n)=>t`<${q} id="ca-reopen-reason" label="Reopening reason"
          value=${e.reason} onInput=${n(`reason`)} />`} />`:null}
    </div>
  </div>`:t`<p class="muted">${o(`cases:work`)||o(`cases:close`)?`No action is open to you while the case is ${e.status.replaceAll(`_`,` `)}.`:`Your roles may read this case but not work it.`}</p>`}function oe(e,t){let n=URL.createObjectURL(e),r=document.createElement(`a`);r.href=n,r.download=t,r.rel=`noopener`,document.body.appendChild(r),r.click(),r.remove(),setTimeout(()=>URL.revokeObjectURL(n),3e4)}function se(e,t){let n=e.headers.get(`Content-Disposition`)||``,r=/filename="([^"]+)"/.exec(n);return r?r[1]:t}function X({path:n,query:r,name:i,label:a,describedBy:o}){let[s,c]=e(!1),[l,u]=e(null),[d,f]=e(``);return t`<span class="download">
    <button type="button" onClick=${async()=>{c(!0),u(null),f(``);try{let e=await ee(`GET`,n,{query:r,as:`response`,headers:{Accept:`*/*`}}),t=await e.blob(),a=se(e,i);oe(t,a),f(`Downloaded ${a}.`)}catch(e){u(e)}finally{c(!1)}}} disabled=${s} aria-describedby=${o}>
      ${s?`Downloading…`:a}</button>
    <span class="muted small" role="status">${d}</span>
    ${l?t`<${y} error=${l} title="The download failed" />`:null}
  </span>`}var ce=5242880;function le(e){return new Promise((t,n)=>{let r=new FileReader;r.onload=()=>t(String(r.result).replace(/^data:[^,]*,/,``)),r.onerror=()=>n(r.error),r.readAsDataURL(e)})}function ue({c:n,onDone:a}){let o=p(null),[s,c]=e(!1),[l,u]=e(null);return t`<form class="row case-upload" aria-label="Attach a file" onSubmit=${async e=>{e.preventDefault();let t=o.current?.files?.[0];if(u(null),t){if(t.size>ce)u({code:`TOO_LARGE`,message:`${t.name} is ${L(t.size)}; attachments are at most 5 MiB`});else{c(!0);try{let e=await le(t);await r(`/api/v1/cases/${i(n.id)}/attachments`,{name:t.name,media_type:t.type||`application/octet-stream`,content_base64:e}),o.current.value=``,a(null,`Attached ${t.name}.`)}catch(e){u(e)}finally{c(!1)}}}}}>
    <${f} id="ca-file" label="File" hint="At most 5 MiB; kept sealed with its SHA-256.">
      <input id="ca-file" type="file" ref=${o} required /><//>
    <button type="submit" disabled=${s}>${s?`Attaching…`:`Attach`}</button>
    <${y} error=${l} title="The file was not attached" />
  </form>`}function de({c:e,onDone:n}){let r=e.attachments||[];return t`${r.length?t`<${l} caption="Attachments" columns=${[{key:`name`,label:`Name`},{key:`media_type`,label:`Type`},{key:`bytes`,label:`Size`,className:`num`,render:e=>L(e.bytes)},{key:`sha256`,label:`SHA-256`,render:e=>t`<code title=${e.sha256}>${h(e.sha256,16)}</code>`},{key:`dl`,label:`Download`,render:n=>t`<${X}
        path=${`/api/v1/cases/${i(e.id)}/attachments/${i(n.attachment_id)}`}
        name=${n.name} label=${`Download ${n.name}`} />`}]} rows=${r}
      rowKey=${e=>e.attachment_id} />`:t`<${g}>No attachments.<//>`}
    ${o(`cases:work`)?t`<${ue} c=${e} onDone=${n} />`:null}`}var fe={opened:`Opened`,evaluation_added:`Evaluation added`,assign:`Assigned`,claim:`Claimed`,release:`Released`,comment:`Comment`,escalate:`Escalated`,close:`Closed`,close_requested:`Closing requested`,approve:`Closing approved`,reject:`Closing rejected`,reopen:`Reopened`,attachment_added:`Attachment added`},Z=e=>fe[e]||e.replaceAll(`_`,` `);function pe({ev:e}){let n=F(e);return t`<li class="case-event">
    <div class="case-event-head">
      <strong>${Z(e.action)}</strong>
      <span> by <span class="case-actor">${e.actor}</span></span>
      <span class="muted"> · <time datetime=${e.at}>${u(e.at)}</time> · event ${e.idx}</span>
    </div>
    ${n.length?t`<dl class="case-kv">
      ${n.map(([e,n])=>t`<dt>${e}</dt><dd class=${e===`Text`||e===`Reason`||e===`Note`?`case-text`:``}>${e===`Due`?u(n):n}</dd>`)}
    </dl>`:null}
    <details class="small muted">
      <summary>Hashes</summary>
      <div>previous <code>${e.prev_hash}</code></div>
      <div>this <code>${e.hash}</code></div>
    </details>
  </li>`}function me({events:e}){return t`<${_} state=${e} isEmpty=${e=>!e.items.length}
      empty="No event recorded.">
    ${e=>t`<ol class="case-history" aria-label="Case events, oldest first">
      ${e.items.map(e=>t`<${pe} key=${e.id} ev=${e} />`)}</ol>`}
  <//>`}function Q({events:e}){if(!e.data)return null;let n=I(e.data.items);return n.length?t`<ul class="case-notes">
    ${n.map(e=>t`<li key=${e.id}>
      <div class="small"><strong>${e.actor}</strong> <span class="muted">· ${Z(e.action)} · <time datetime=${e.at}>${u(e.at)}</time></span></div>
      <p class="case-text">${e.text}</p></li>`)}
  </ul>`:t`<${g}>No comments or notes yet.<//>`}function he({state:e,onCheck:n}){let r=e.data,i;return i=e.error?t`<${y} error=${e.error} title="The chain could not be checked" />`:r?r.valid?t`<p><${x} value="valid" /> The chain checks: ${r.events} ${r.events===1?`event`:`events`},
      head${` `}<code title=${r.head}>${h(r.head,16)}</code>${r.version===r.events?null:t`, <strong>but the case says version ${r.version}</strong>`}.</p>`:t`<div role="alert"><p><${x} value="invalid" /> <strong>The chain does not
      check</strong> (${r.events} events read).</p><p>${r.error}</p></div>`:t`<${b} what="Checking the chain" />`,t`<div class="case-chain" aria-live="polite">${i}
    <button type="button" onClick=${n} disabled=${e.loading}>
      ${e.loading?`Checking…`:`Verify chain`}</button></div>`}var $=e=>s(`/evaluations/${i(e)}`);function ge({c:e}){let n=[[`Status`,t`<${x} value=${e.status} />`],[`Queue`,t`<a href=${s(`/cases`,{queue:e.queue})}>${e.queue}</a>`],[`Priority`,e.priority],[`Assignee`,e.assignee||t`<span class="muted">nobody</span>`],[`Assignee group`,v(e.assignee_group)],[`SLA`,t`<${B} c=${e} />`],[`Decision`,e.disposition?t`<${x} value=${e.disposition}
      tone=${k.includes(e.disposition)?`bad`:`neutral`} />`:t`<span class="muted">${e.pending_close?`pending: ${e.pending_close.disposition}`:`none yet`}</span>`],[`Entity`,e.entity_id?t`<code>${e.entity_id}</code>`:v(null)],[`Opened`,t`<time datetime=${e.opened_at}>${u(e.opened_at)}</time> by ${e.opened_by||`—`}`],...e.reason?[[`Opening reason`,e.reason]]:[],[`Updated`,t`<time datetime=${e.updated_at}>${u(e.updated_at)}</time>`],[`Closed`,e.closed_at?t`<time datetime=${e.closed_at}>${u(e.closed_at)}</time>`:v(null)],[`Version`,t`${e.version} ${e.version===1?`event`:`events`} · head <code title=${e.head_hash}>${h(e.head_hash,16)}</code>`]];return t`<dl class="case-summary panel" aria-label="Case summary">
    ${n.map(([e,n])=>t`<div><dt>${e}</dt><dd>${n}</dd></div>`)}
  </dl>`}function _e({c:e}){let n=Object.fromEntries((e.triggers||[]).map(e=>[e.evaluation_id,e.triggers])),r=e.escalations||[];return t`<ul class="case-evals">
      ${e.evaluation_ids.map(e=>t`<li key=${e}><a href=${$(e)}><code>${e}</code></a>
        ${n[e]?.length?t` <span class="muted small">triggered by ${n[e].join(`, `)}</span>`:null}</li>`)}
    </ul>
    ${e.rule_versions?.length?t`<p class="small">Rules evaluated:
      ${e.rule_versions.map(e=>t` <code>${e}</code>`)}</p>`:null}
    ${r.length?t`<${l} caption="Escalations" rows=${r}
      rowKey=${(e,t)=>`${e.evaluation_id}-${e.rule_id}-${t}`} columns=${[{key:`rule`,label:`Rule`,render:e=>t`<code>${e.rule_id}@${e.rule_version}</code>`},{key:`condition_id`,label:`Condition`},{key:`queue`,label:`Queue`},{key:`priority`,label:`Priority`},{key:`notes`,label:`Notes`},{key:`evaluation_id`,label:`Evaluation`,render:e=>t`<a
          href=${$(e.evaluation_id)}><code>${h(e.evaluation_id,10)}</code></a>`}]} />`:null}`}function ve({c:e}){let n=`/api/v1/cases/${i(e.id)}`,r=e.status===`closed`&&k.includes(e.disposition);return t`<p class="muted small" id="case-bundle-hint">The signed bundle holds the case, its
      chain and every linked evaluation with its inclusion proof; check it offline
      with${` `}<code>arka-cli verify BUNDLE.json</code>.</p>
    <div class="row">
      <${X} path=${`${n}/export`} name=${`${e.id}.bundle.json`}
        label="Download signed bundle" describedBy="case-bundle-hint" />
      ${r?t`
        <${X} path=${`${n}/sar`} name=${`${e.id}.sar.json`}
          label="Download report draft (JSON)" />
        <${X} path=${`${n}/sar`} query=${{format:`goaml`}}
          name=${`${e.id}.goaml.xml`} label="Download report draft (goAML XML)" />`:null}
    </div>`}function ye({id:n}){let[r,o]=e(0),[s,l]=e(``),u=d(()=>a(`/api/v1/cases/${i(n)}`),[n,r]),f=d(()=>a(`/api/v1/cases/${i(n)}/events`),[n,r]),p=d(()=>a(`/api/v1/cases/${i(n)}/verify`),[n,r]),m=u.data,h=t`<p class="muted"><a href="#/cases">← Cases</a></p>`,g=`Case ${n}`;if(u.error)return t`<${c} title=${g}>${h}<${y} error=${u.error}
      title="The case could not be read" /><//>`;if(!m)return t`<${c} title=${g}>${h}<${b} what="Loading the case" /><//>`;let _=(e,t)=>{l(t),o(e=>e+1)};return t`<${c} title=${g} wide
      actions=${t`<button type="button" onClick=${()=>{l(``),o(e=>e+1)}}>Reload</button>`}>
    ${h}
    <p class="case-status-msg" role="status" aria-live="polite">${s}</p>
    <${ge} c=${m} />
    <section aria-labelledby="case-actions-h">
      <h2 id="case-actions-h">Actions</h2>
      <${ae} key=${m.version} c=${m} onDone=${_} />
    </section>
    <section aria-labelledby="case-evals-h">
      <h2 id="case-evals-h">Evaluations</h2>
      <${_e} c=${m} />
    </section>
    <section aria-labelledby="case-notes-h">
      <h2 id="case-notes-h">Notes</h2>
      <${Q} events=${f} />
    </section>
    <section aria-labelledby="case-att-h">
      <h2 id="case-att-h">Attachments</h2>
      <${de} c=${m} onDone=${_} />
    </section>
    <section aria-labelledby="case-history-h">
      <h2 id="case-history-h">History</h2>
      <h3>Chain check</h3>
      <${he} state=${p} onCheck=${p.reload} />
      <h3>Events, oldest first</h3>
      <${me} events=${f} />
    </section>
    <section aria-labelledby="case-export-h">
      <h2 id="case-export-h">Export</h2>
      <${ve} c=${m} />
    </section>
  <//>`}function be({route:e}){let n=e.parts[1];return n?t`<${ye} key=${n} id=${n} />`:t`<${W} query=${e.query} />`}export{be as CasesPage};
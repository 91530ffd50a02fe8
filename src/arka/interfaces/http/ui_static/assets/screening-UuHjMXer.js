import{A as e,C as t,D as n,E as r,S as i,T as a,_ as o,b as s,c,d as l,g as u,h as d,i as f,k as p,l as m,m as h,n as g,p as _,r as v,s as y,t as b,v as x,x as S}from"./index-B_9NrWpN.js";var C=[`Person`,`Organization`,`Company`,`LegalEntity`,`PublicBody`,`Vessel`,`Airplane`,`Vehicle`,`Asset`,`Security`],w=[{id:`sanction`,label:`Sanctions (sanction)`},{id:`role.pep`,label:`Politically exposed persons (role.pep)`},{id:`role.rca`,label:`Relatives and close associates (role.rca)`},{id:`sanction.linked`,label:`Linked to sanctioned entities (sanction.linked)`},{id:`crime`,label:`Crime (crime)`},{id:`debarment`,label:`Debarment (debarment)`}];function T(e){return String(e||``).split(/[\s,;]+/).map(e=>e.trim()).filter(Boolean)}function E(e){let t={name:e.name.trim(),schema:e.schema||`Person`};e.birth_date?.trim()&&(t.birth_date=e.birth_date.trim());let n=T(e.countries);n.length&&(t.countries=n);let r=[...new Set([...e.topics||[],...T(e.other_topics)])];return r.length&&(t.topics=r),String(e.threshold??``).trim()!==``&&(t.threshold=Number(e.threshold)),String(e.limit??``).trim()!==``&&(t.limit=Number(e.limit)),e.subject_id?.trim()&&(t.subject_id=e.subject_id.trim()),t}var D={name_exact:[`Whole name`,`the same name, exactly`],name_compact:[`Whole name`,`the same letters, written without spaces or split differently`],name_token_sort:[`Whole name`,`the same words in another order, close spelling`],token_exact:[`Name part`,`exact`],token_romanised:[`Name part`,`another romanisation of the same word`],token_fuzzy:[`Name part`,`close spelling (a few letters differ)`],token_phonetic:[`Name part`,`sounds the same`],token_initial:[`Name part`,`an initial of the word`],token_unmatched:[`Name part`,`in the query, not in the listed name`],token_not_in_query:[`Name part`,`in the listed name, not in the query`],birth_date_match:[`Birth date`,`the same full date`],birth_year_match:[`Birth date`,`the same year`],birth_date_mismatch:[`Birth date`,`the same year, another day`],birth_year_mismatch:[`Birth date`,`no year in common`],country_match:[`Country`,`a country in common`],country_mismatch:[`Country`,`every listed country differs`],clamp:[`Score limit`,`the total is kept between 0 and 1`]};function O(e){let t=e.endsWith(`_weak_alias`),n=t?e.slice(0,-11):e,[r,i]=D[n]||[`Other`,n.replaceAll(`_`,` `)];return{aspect:r,how:t?`${i} (weak alias: counts three quarters)`:i}}function k(e){let t=Number(e);return Number.isFinite(t)?t===0?`0`:`${t>0?`+`:`−`}${Math.abs(t).toFixed(4)}`:String(e)}function A(e){let t=Number(e);return Number.isFinite(t)?`${(t*100).toFixed(1).replace(/\.0$/,``)} %`:String(e)}function j({m:e,idx:n}){let r=e.explanation||[];return r.length?t`<div class="table-wrap"><table class="screen-explain">
    <caption>Why ${e.caption||e.entity_id} scored ${e.score}</caption>
    <thead><tr><th scope="col">Aspect</th><th scope="col">Query</th><th scope="col">Listed</th>
      <th scope="col">How</th><th scope="col" class="num">Contribution</th></tr></thead>
    <tbody>${r.map((e,r)=>{let i=O(e.feature),a=Number(e.contribution);return t`<tr key=${`${n}-${r}`}>
        <td>${i.aspect}</td>
        <td>${e.query==null?t`<span class="muted">—</span>`:t`<code>${e.query}</code>`}</td>
        <td>${e.candidate==null?t`<span class="muted">—</span>`:t`<code>${e.candidate}</code>`}</td>
        <td>${i.how} <span class="muted small">(${e.feature})</span></td>
        <td class=${`num ${a>0?`contrib-up`:a<0?`contrib-down`:``}`}>${k(e.contribution)}</td>
      </tr>`})}</tbody>
    <tfoot><tr><th scope="row" colspan="4">Score (the sum)</th>
      <td class="num"><strong>${e.score}</strong></td></tr></tfoot>
  </table></div>`:t`<p class="muted small">No explanation given.</p>`}function M({m:e}){let n=[[`Entity id`,t`<code>${e.entity_id}</code>`],[`Type`,e.schema],[`On lists`,(e.datasets||[]).join(`, `)||`—`],[`Sources`,(e.sources||[]).join(`, `)||`—`],[`Topics`,(e.topics||[]).join(`, `)||`—`],[`Countries`,(e.countries||[]).join(`, `)||`—`],[`Birth dates`,(e.birth_dates||[]).join(`, `)||`—`],[`Entity hash`,t`<code title=${e.entity_hash}>${h(e.entity_hash,20)}</code>`]];return t`<dl class="screen-facts">${n.map(([e,n])=>t`<div><dt>${e}</dt><dd>${n}</dd></div>`)}</dl>`}function N({m:e,idx:n,subject:r}){let i=s(`/screening/allowlist/new`,{subject_id:r,entity_id:e.entity_id});return t`<article class="panel screen-match" aria-labelledby=${`match-${n}`}>
    <h3 id=${`match-${n}`}>${e.caption||e.entity_id}
      <span class="screen-score"> — score ${e.score} (${A(e.score)})</span></h3>
    <${M} m=${e} />
    <${j} m=${e} idx=${n} />
    ${o(`screening:write`)?t`<p><a class="button" href=${i}>Record a false
      positive for ${e.caption||e.entity_id}</a>${r?null:t` <span class="muted
      small">(you will be asked for the customer id)</span>`}</p>`:null}
  </article>`}function P({items:e}){return e?.length?t`<h3>Skipped by allowlist decisions</h3>
    <ul class="screen-skipped">${e.map(e=>t`<li key=${e.allowlist_id}>
      <code>${e.entity_id}</code> (score ${e.score}): decision${` `}
      <a href=${s(`/screening/allowlist/${i(e.allowlist_id)}`)}><code>${e.allowlist_id}</code></a>${` `}
      by ${e.decided_by}${e.decided_at?` on ${u(e.decided_at)}`:``}: <q>${e.reason}</q></li>`)}
    </ul>`:null}function F({items:e}){return e?.length?t`<div class="panel screen-reopened" role="note" aria-label="Reopened decisions">
    <strong>Decisions that no longer apply</strong> (the listed entity changed since):
    <ul>${e.map((e,n)=>t`<li key=${n}>${e.allowlist_id?t`<a
        href=${s(`/screening/allowlist/${i(e.allowlist_id)}`)}><code>${e.allowlist_id}</code></a>`:null} <code>${e.entity_id||``}</code>${e.reason?`: ${e.reason}`:``}</li>`)}</ul>
  </div>`:null}function I({result:e}){let n=e.data_version?.datasets||[];return t`<p class="muted small">Screened with plugin ${e.plugin_version||`—`}${` `}
    against ${n.length?n.map((e,n)=>t`${n?`, `:``}<strong>${e.name}</strong>${` `}
      (${e.records} records, version <code title=${e.version}>${h(e.version,16)}</code>)`):`no list`}.</p>`}function L({result:e,subject:n}){let r=e.query||{},i=r.subject_id||n||``,a=e.matches||[],o=a.length?`${a.length} match${a.length===1?``:`es`} for “${r.name}”, best score ${e.score}`:`No match for “${r.name}”`;return t`<div class="screen-summary">
      <h2 id="screen-summary" class="screen-summary-h" tabindex="-1"><${b}
        value=${a.length?`match`:`no match`} tone=${a.length?`bad`:`good`} />
        ${` `}${o}</h2>
      <p class="muted small">As ${r.schema}, topics ${(r.topics||[]).join(`, `)},
        threshold ${r.threshold}${r.birth_date?`, born ${r.birth_date}`:``}${r.countries?.length?`, countries ${r.countries.join(`, `)}`:``}${i?`, customer ${i}`:``}.</p>
    </div>
    <${F} items=${e.reopened} />
    ${a.length?a.map((e,n)=>t`<${N} key=${e.entity_id} m=${e} idx=${n}
        subject=${i} />`):t`<${g}>No listed entity scores ${r.threshold} or more for this query${e.allowlisted?.length?` once the allowlist decisions are applied`:``}.<//>`}
    <${P} items=${e.allowlisted} />
    <${I} result=${e} />`}var R={name:``,schema:`Person`,birth_date:``,countries:``,topics:[],other_topics:``,threshold:`0.8`,limit:`10`,subject_id:``},z={form:R,result:null};function B(){let[i,a]=e(z.form),[o,s]=e(z.result),[c,l]=e(z.subject||``),[u,d]=e(null),[m,h]=e(!1),g=p(!1);n(()=>{if(!g.current||!o)return;g.current=!1;let e=document.getElementById(`screen-summary`);e?.scrollIntoView({block:`start`}),e?.focus({preventScroll:!0})},[o]);let _=e=>t=>a({...i,[e]:t.currentTarget.value}),b=e=>a({...i,topics:i.topics.includes(e)?i.topics.filter(t=>t!==e):[...i.topics,e]});return t`<form class="screen-form panel" aria-label="Screening query" onSubmit=${async e=>{e.preventDefault(),h(!0),d(null);try{let e=await r(`/api/v1/screen`,E(i));g.current=!0,s(e),l(i.subject_id.trim()),z={form:i,result:e,subject:i.subject_id.trim()}}catch(e){d(e),s(null),z={form:i,result:null}}finally{h(!1)}}}>
      <div class="screen-grid">
        <${f} id="sc-name" label="Name" hint="As your records hold it, in any script">
          <input id="sc-name" type="text" value=${i.name} onInput=${_(`name`)} required
            maxlength="500" autocomplete="off" /><//>
        <${f} id="sc-schema" label="Type">
          <select id="sc-schema" value=${i.schema} onChange=${_(`schema`)}>
            ${C.map(e=>t`<option value=${e}>${e}</option>`)}
          </select><//>
        <${f} id="sc-birth" label="Birth date" hint="YYYY, YYYY-MM or YYYY-MM-DD">
          <input id="sc-birth" type="text" value=${i.birth_date} onInput=${_(`birth_date`)}
            pattern="\\d{4}(-\\d{2}(-\\d{2})?)?" inputmode="numeric" maxlength="10" /><//>
        <${f} id="sc-countries" label="Countries" hint="ISO codes, comma separated, e.g. ru, by">
          <input id="sc-countries" type="text" value=${i.countries} onInput=${_(`countries`)} /><//>
        <${f} id="sc-threshold" label="Threshold" hint="Lowest score reported (0–1)">
          <input id="sc-threshold" type="number" min="0" max="1" step="0.01" value=${i.threshold}
            onInput=${_(`threshold`)} /><//>
        <${f} id="sc-limit" label="Most matches">
          <input id="sc-limit" type="number" min="1" max="1000" step="1" value=${i.limit}
            onInput=${_(`limit`)} /><//>
        <${f} id="sc-subject" label="Customer id" hint="Optional: applies the allowlist decisions of this customer">
          <input id="sc-subject" type="text" value=${i.subject_id} onInput=${_(`subject_id`)}
            maxlength="256" /><//>
      </div>
      <fieldset class="screen-topics">
        <legend>Topics</legend>
        <p class="muted small">None ticked: sanctions only. Topics match exactly: tick each risk you screen for.</p>
        ${w.map(e=>t`<label class="check"><input type="checkbox"
          checked=${i.topics.includes(e.id)} onChange=${()=>b(e.id)} /> ${e.label}</label>`)}
        <${f} id="sc-topics" label="Other topics" hint="e.g. crime.fin, role.oligarch">
          <input id="sc-topics" type="text" value=${i.other_topics} onInput=${_(`other_topics`)} /><//>
      </fieldset>
      <div class="row">
        <button type="submit" class="primary" disabled=${m}>Screen</button>
        <button type="button" onClick=${()=>{a(R),s(null),d(null),z={form:R,result:null}}}>Clear</button>
      </div>
    </form>
    <section class="screen-results" aria-label="Screening results" aria-busy=${m?`true`:`false`}>
      ${m?t`<${y} what="Screening" />`:null}
      <${v} error=${u} title="The screening failed" />
      ${o&&!m?t`<${L} result=${o} subject=${c} />`:null}
      ${!o&&!u&&!m?t`<p class="muted">Results appear here.</p>`:null}
    </section>`}var V=25,H=[`pending`,`active`,`rejected`,`revoked`],U=[`subject_id`,`entity_id`,`status`],W=`/screening/allowlist`,G=e=>s(`${W}/${i(e)}`),K=[{key:`id`,label:`Decision`,render:e=>t`<a href=${G(e.id)}
      onClick=${e=>e.stopPropagation()}><code>${e.id}</code></a>`},{key:`subject_id`,label:`Customer`,render:e=>t`<code>${e.subject_id}</code>`},{key:`entity`,label:`Listed entity`,render:e=>t`${e.entity_caption||``}
      <span class="muted small"> <code>${e.entity_id}</code></span>`},{key:`status`,label:`Status`,render:e=>t`<${b} value=${e.status} />`},{key:`created_by`,label:`Recorded by`},{key:`created_at`,label:`Recorded`,render:e=>t`<time datetime=${e.created_at}>
      ${u(e.created_at)}</time>`},{key:`reason`,label:`Reason`,render:e=>t`<span class="al-reason">${e.reason}</span>`}];function q({query:r,onApply:i}){let a=()=>({subject_id:r.subject_id||``,entity_id:r.entity_id||``,status:r.status||``}),[o,s]=e(a);n(()=>s(a()),[U.map(e=>r[e]||``).join(`\0`)]);let c=e=>t=>s({...o,[e]:t.currentTarget.value}),l=e=>{e.preventDefault(),i({subject_id:o.subject_id.trim(),entity_id:o.entity_id.trim(),status:o.status})},u=U.some(e=>r[e]);return t`<form class="filters" role="search" aria-label="Filter allowlist decisions"
      onSubmit=${l}>
    <${f} id="al-f-subject" label="Customer id">
      <input id="al-f-subject" type="text" value=${o.subject_id} onInput=${c(`subject_id`)} /><//>
    <${f} id="al-f-entity" label="Entity id">
      <input id="al-f-entity" type="text" value=${o.entity_id} onInput=${c(`entity_id`)} /><//>
    <${f} id="al-f-status" label="Status">
      <select id="al-f-status" value=${o.status} onChange=${c(`status`)}>
        <option value="">Any</option>
        ${H.map(e=>t`<option value=${e}>${e}</option>`)}
      </select><//>
    <div class="filter-buttons">
      <button type="submit" class="primary">Apply filters</button>
      ${u?t`<button type="button" onClick=${()=>i({})}>Clear filters</button>`:null}
    </div>
  </form>`}function J({query:e}){let n=Math.max(1,Number(e.page)||1),r={page:n,per_page:V};for(let t of U)e[t]&&(r[t]=e[t]);let c=JSON.stringify(r),u=d(()=>a(`/api/v1/screening/allowlist`,JSON.parse(c)),[c]),f=U.some(t=>e[t]),p=u.data,h;return h=u.error?t`<${v} error=${u.error} title="The allowlist could not be read" />`:p?p.items.length?t`<${l} caption="Allowlist decisions" columns=${K} rows=${p.items}
      rowKey=${e=>e.id} onRow=${e=>S(`${W}/${i(e.id)}`)} />`:t`<${g}>${f?`No decision matches these filters.`:n>1?`No decisions on this page.`:`No false-positive decision recorded yet.`}<//>`:t`<${y} what="Loading the allowlist" />`,t`
    <div class="row al-head">
      <h2>Allowlist decisions</h2>
      ${o(`screening:write`)?t`<a class="button primary" href=${s(`${W}/new`)}>Record a decision</a>`:null}
      <button type="button" onClick=${u.reload}>Reload</button>
    </div>
    <${q} query=${e} onApply=${e=>S(W,{...e,page:void 0})} />
    ${u.loading&&p?t`<${y} what="Refreshing" />`:null}
    ${h}
    ${p&&(p.items.length||n>1)?t`<${m} page=${n} perPage=${p.per_page}
      total=${p.total} onPage=${t=>S(W,{...e,page:t>1?t:void 0})} />`:null}`}function Y({query:n}){let[a,c]=e({subject_id:n.subject_id||``,entity_id:n.entity_id||``,reason:``}),[l,u]=e(null),[d,p]=e(!1),m=e=>t=>c({...a,[e]:t.currentTarget.value});return o(`screening:write`)?t`<h2>Record a false positive</h2>
    <p class="muted">This customer is not that listed entity. Later screenings of the customer
      skip the entity (once approved, where four-eyes is on) until the entity's list data changes.</p>
    <form class="panel al-form" aria-label="Record a false positive" onSubmit=${async e=>{e.preventDefault(),p(!0),u(null);try{let e=await r(`/api/v1/screening/allowlist`,{subject_id:a.subject_id.trim(),entity_id:a.entity_id.trim(),reason:a.reason});S(`${W}/${i(e.id)}`,{recorded:1})}catch(e){u(e)}finally{p(!1)}}}>
      <${f} id="al-subject" label="Customer id" hint="As rules pass it in subject_id">
        <input id="al-subject" type="text" value=${a.subject_id} onInput=${m(`subject_id`)}
          required maxlength="256" /><//>
      <${f} id="al-entity" label="Entity id" hint="A match's entity id, e.g. putin">
        <input id="al-entity" type="text" value=${a.entity_id} onInput=${m(`entity_id`)}
          required maxlength="256" /><//>
      <${f} id="al-reason" label="Reason" hint="Why they are not the same (3 to 2000 characters; kept in the audit log)">
        <textarea id="al-reason" rows="4" value=${a.reason} onInput=${m(`reason`)} required
          minlength="3" maxlength="2000"></textarea><//>
      <${v} error=${l} title="The decision was not recorded" />
      <div class="row">
        <button type="submit" class="primary" disabled=${d}>Record decision</button>
        <a href=${s(W)}>Cancel</a>
      </div>
    </form>`:t`<p role="alert">Your roles do not grant <code>screening:write</code>, which
      recording a decision needs.</p>`}function X({e}){let n=e=>e?t`<time datetime=${e}>${u(e)}</time>`:_(null),r=[[`Status`,t`<${b} value=${e.status} />`],[`Customer`,t`<code>${e.subject_id}</code>`],[`Listed entity`,t`${e.entity_caption||``} <code>${e.entity_id}</code>`],[`Entity hash`,t`<code>${e.entity_hash}</code>`],[`Lists`,(e.datasets||[]).map((e,n)=>t`${n?`, `:``}${e.name}
      <code title=${e.version}>${String(e.version||``).slice(0,19)}…</code>`)],[`Reason`,t`<span class="case-text">${e.reason}</span>`],[`Recorded`,t`${n(e.created_at)} by ${e.created_by}`],[`Reviewed`,e.reviewed_by?t`${n(e.reviewed_at)} by ${e.reviewed_by}`:_(null)],[`Review note`,_(e.review_note)],[`Revoked`,e.revoked_by?t`${n(e.revoked_at)} by ${e.revoked_by}`:_(null)],[`Revocation note`,_(e.revoke_note)]];return t`<dl class="case-summary panel" aria-label="Decision">
    ${r.map(([e,n])=>t`<div><dt>${e}</dt><dd>${n}</dd></div>`)}</dl>`}function Z({e:n,onDone:a}){let[s,c]=e(``),[l,u]=e(null),[d,p]=e(null),m=n.status===`pending`,h=o(`screening:approve`)&&m,g=o(`screening:write`)&&(m||n.status===`active`);if(!h&&!g)return t`<p class="muted">${m||n.status===`active`?`Your roles may read this decision but not review or revoke it.`:`The decision is ${n.status}: nothing more can be done with it.`}</p>`;let _=e=>async()=>{u(e),p(null);try{let t=s.trim()?{note:s.trim()}:void 0,o=await r(`/api/v1/screening/allowlist/${i(n.id)}/${e}`,t);c(``),a(o,e)}catch(e){p(e)}finally{u(null)}},y=n.created_by&&n.created_by===x.get()?.person;return t`<form class="panel al-review" aria-label="Review the decision"
      onSubmit=${e=>e.preventDefault()}>
    ${h&&y?t`<p class="muted small">You recorded this decision: the API lets only
      another person approve or reject it.</p>`:null}
    <${f} id="al-note" label="Note (optional)" hint="Why, for the audit log">
      <textarea id="al-note" rows="2" value=${s} maxlength="2000"
        onInput=${e=>c(e.currentTarget.value)}></textarea><//>
    <${v} error=${d} title="The review was refused" />
    <div class="row">
      ${h?t`<button type="button" class="primary" disabled=${!!l}
        onClick=${_(`approve`)}>Approve</button>
        <button type="button" class="danger" disabled=${!!l} onClick=${_(`reject`)}>Reject</button>`:null}
      ${g?t`<button type="button" class="danger" disabled=${!!l}
        onClick=${_(`revoke`)}>Revoke</button>`:null}
    </div>
  </form>`}var Q={approve:`Approved: the decision applies now.`,reject:`Rejected.`,revoke:`Revoked: later screenings report the entity again.`};function $({id:n,query:r}){let[o,c]=e(0),[l,u]=e(r.recorded?`Decision recorded.`:``),f=d(()=>a(`/api/v1/screening/allowlist/${i(n)}`),[n,o]),p=f.data,m=t`<p class="muted"><a href=${s(`/screening/allowlist`)}>← Allowlist</a></p>`;return f.error?t`${m}<${v} error=${f.error} title="The decision could not be read" />`:p?t`${m}
    <h2>Decision <code>${p.id}</code></h2>
    <p role="status" aria-live="polite">${l}${p.status===`pending`&&!l?`Pending: it applies once another person approves it.`:``}</p>
    <${X} e=${p} />
    <h3>Review</h3>
    <${Z} key=${p.status} e=${p} onDone=${(e,t)=>{u(Q[t]),c(e=>e+1)}} />`:t`${m}<${y} what="Loading the decision" />`}function ee({current:e}){let n=[...o(`screening:run`)?[{id:`screen`,label:`Screen a name`,to:`/screening`}]:[],{id:`allowlist`,label:`Allowlist`,to:`/screening/allowlist`}];return t`<nav class="subnav" aria-label="Screening"><ul>
    ${n.map(n=>t`<li><a href=${s(n.to)}
      aria-current=${e===n.id?`page`:void 0}>${n.label}</a></li>`)}
  </ul></nav>`}function te({route:e}){let[,n,r]=e.parts,i,a;return n===`allowlist`&&r===`new`?(i=`allowlist`,a=t`<${Y} query=${e.query} />`):n===`allowlist`&&r?(i=`allowlist`,a=t`<${$} key=${r} id=${r} query=${e.query} />`):n===`allowlist`||!o(`screening:run`)?(i=`allowlist`,a=t`<${J} query=${e.query} />`):n?a=t`<p role="alert">No such page: <code>${e.path}</code>.${` `}
      <a href="#/screening">Back to screening</a></p>`:(i=`screen`,a=t`<${B} />`),t`<${c} title="Screening" wide>
    <${ee} current=${i} />
    ${a}
  <//>`}export{te as ScreeningPage};
import{A as e,C as t,D as n,i as r}from"./index-B_9NrWpN.js";var i=[`decision`,`rule_id`,`from`,`to`,`flag`,`entity`],a=[`compliant`,`needs_review`,`non_compliant`];function o(e,t=!1){if(!e)return``;let n=/^(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2})(?::(\d{2}))?)?$/.exec(e);if(!n)return``;let[,r,i,a]=n;return i?a?`${r}T${i}:${a}Z`:`${r}T${i}:${t?`59.999`:`00`}Z`:`${r}T${t?`23:59:59.999`:`00:00:00`}Z`}function s(e){if(!e)return``;let t=new Date(e);return Number.isNaN(t.getTime())?``:t.toISOString().slice(0,16)}function c(e,t){let n={order:`desc`,page:Number(e.page)||1,per_page:t};for(let t of i)e[t]&&(n[t]=e[t]);return n}function l({query:c,onApply:l}){let u=()=>({decision:c.decision||``,rule_id:c.rule_id||``,from:s(c.from),to:s(c.to),flag:c.flag||``,entity:c.entity||``}),[d,f]=e(u);n(()=>f(u()),[i.map(e=>c[e]||``).join(`\0`)]);let p=e=>t=>f({...d,[e]:t.currentTarget.value}),m=e=>{e.preventDefault(),l({decision:d.decision,rule_id:d.rule_id.trim(),from:o(d.from),to:o(d.to,!0),flag:d.flag.trim(),entity:d.entity.trim()})},h=()=>l({}),g=i.some(e=>c[e]);return t`<form class="filters eval-filters" role="search" aria-label="Filter evaluations"
      onSubmit=${m}>
    <${r} id="ev-decision" label="Decision">
      <select id="ev-decision" value=${d.decision} onChange=${p(`decision`)}>
        <option value="">Any</option>
        ${a.map(e=>t`<option value=${e}>${e.replaceAll(`_`,` `)}</option>`)}
      </select><//>
    <${r} id="ev-rule" label="Rule">
      <input id="ev-rule" type="text" value=${d.rule_id} onInput=${p(`rule_id`)}
        placeholder="exact rule name" maxlength="200" /><//>
    <${r} id="ev-from" label="From">
      <input id="ev-from" type="datetime-local" value=${d.from} onInput=${p(`from`)}
        aria-describedby="ev-utc" /><//>
    <${r} id="ev-to" label="To">
      <input id="ev-to" type="datetime-local" value=${d.to} onInput=${p(`to`)}
        aria-describedby="ev-utc" /><//>
    <${r} id="ev-flag" label="Flag category">
      <input id="ev-flag" type="text" value=${d.flag} onInput=${p(`flag`)}
        placeholder="e.g. CTR_REQUIRED" maxlength="200" /><//>
    <${r} id="ev-entity" label="Entity">
      <input id="ev-entity" type="text" value=${d.entity} onInput=${p(`entity`)}
        placeholder="transaction or customer id" maxlength="200" /><//>
    <div class="filter-buttons">
      <button type="submit" class="primary">Apply filters</button>
      ${g?t`<button type="button" onClick=${h}>Clear filters</button>`:null}
    </div>
    <small id="ev-utc" class="muted eval-utc">Times are UTC, both ends included.</small>
  </form>`}export{o as a,s as i,l as n,c as r,i as t};
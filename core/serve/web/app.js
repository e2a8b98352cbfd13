// app.js — the page of `m3ret serve`: pick or drop a file, show the most
// similar cases.  Talks to the JSON API of the same server only.
'use strict';

const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem('m3ret-token') || '';
let lastFile = null;
const objectUrls = [];

function headers() {
  return token ? { Authorization: 'Bearer ' + token } : {};
}

function setStatus(text, isError) {
  $('status').textContent = text;
  $('status').classList.toggle('error', !!isError);
}

async function api(path, options) {
  const response = await fetch(path, Object.assign({ headers: headers() }, options || {}));
  if (response.status === 401) {
    $('token-row').hidden = false;
    $('token').focus();
    throw new Error('this server asks for a token: enter it above');
  }
  return response;
}

async function errorText(response) {
  try {
    const body = await response.json();
    return body.error || response.statusText;
  } catch (e) {
    return response.statusText;
  }
}

async function loadInfo() {
  try {
    const response = await api('/api/info');
    if (!response.ok) throw new Error(await errorText(response));
    const info = await response.json();
    $('info').textContent = `${info.index.items} cases indexed (${info.index.retriever}) · ` +
      `model dim ${info.model.dim} · m3ret ${info.version}`;
    for (const select of [$('modality'), $('filter')]) {
      while (select.options.length > 1) select.remove(1);
      for (const name of info.modalities) {
        const option = document.createElement('option');
        option.value = option.textContent = name;
        select.appendChild(option);
      }
    }
  } catch (e) {
    $('info').textContent = e.message;
  }
}

function clearResults() {
  while (objectUrls.length) URL.revokeObjectURL(objectUrls.pop());
  $('results').replaceChildren();
}

async function thumbnail(img, url) {
  const response = await api(url);
  if (!response.ok) {
    img.alt = 'no thumbnail';
    return;
  }
  const blobUrl = URL.createObjectURL(await response.blob());
  objectUrls.push(blobUrl);
  img.src = blobUrl;
}

function showQuery(file, modality) {
  $('query').hidden = false;
  $('query-name').textContent = file.name;
  $('query-modality').textContent = modality ? 'read as ' + modality : '';
  const preview = $('query-preview');
  preview.replaceChildren();
  if (/^(image\/(png|jpeg)|video\/)/.test(file.type)) {
    const url = URL.createObjectURL(file);
    objectUrls.push(url);
    const el = document.createElement(file.type.startsWith('video/') ? 'video' : 'img');
    el.src = url;
    el.alt = 'the query';
    if (el.tagName === 'VIDEO') el.muted = el.loop = el.autoplay = true;
    preview.appendChild(el);
  }
}

function openViewer(result) {
  $('viewer-caption').textContent =
    `#${result.rank} · ${result.score.toFixed(3)} · ${result.label || '(no label)'} · ${result.modality}`;
  $('viewer-img').removeAttribute('src');
  thumbnail($('viewer-img'), result.thumbnail + '?size=512');
  $('viewer').hidden = false;
  $('viewer-close').focus();
}

function card(result) {
  const el = document.createElement('div');
  el.className = 'result';
  el.tabIndex = 0;
  el.dataset.id = result.id;
  const img = document.createElement('img');
  img.alt = result.label || result.modality;
  const top = document.createElement('div');
  top.className = 'line';
  top.innerHTML = '<span class="rank"></span><span class="score"></span>';
  top.querySelector('.rank').textContent = '#' + result.rank;
  top.querySelector('.score').textContent = result.score.toFixed(3);
  const bottom = document.createElement('div');
  bottom.className = 'line';
  bottom.innerHTML = '<span class="label"></span><span class="modality"></span>';
  bottom.querySelector('.label').textContent = result.label || '(no label)';
  bottom.querySelector('.modality').textContent = result.modality;
  el.append(img, top, bottom);
  el.addEventListener('click', () => openViewer(result));
  el.addEventListener('keydown', (e) => { if (e.key === 'Enter') openViewer(result); });
  return { el, img };
}

async function query(file) {
  lastFile = file;
  clearResults();
  setStatus('searching…');
  const form = new FormData();
  form.append('file', file, file.name);
  form.append('k', $('k').value);
  if ($('modality').value) form.append('modality', $('modality').value);
  if ($('filter').value) form.append('filter', $('filter').value);
  try {
    const response = await api('/api/query', { method: 'POST', body: form });
    if (!response.ok) throw new Error(await errorText(response));
    const answer = await response.json();
    showQuery(file, answer.query.modality);
    const loads = [];
    for (const result of answer.results) {
      const { el, img } = card(result);
      $('results').appendChild(el);
      loads.push(thumbnail(img, result.thumbnail));
    }
    await Promise.all(loads);
    setStatus(answer.results.length ? `${answer.results.length} similar cases` +
      (answer.query.probe_close ? ' (the modality was a close guess: choose it under "read as")' : '')
      : 'no case of that modality in the index');
    document.body.dataset.state = 'done';
  } catch (e) {
    setStatus(e.message, true);
    document.body.dataset.state = 'error';
  }
}

$('file').addEventListener('change', (e) => { if (e.target.files[0]) query(e.target.files[0]); });
const drop = $('drop');
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  if (e.dataTransfer.files[0]) query(e.dataTransfer.files[0]);
});
for (const id of ['k', 'modality', 'filter'])
  $(id).addEventListener('change', () => { if (lastFile) query(lastFile); });
$('token').addEventListener('change', () => {
  token = $('token').value.trim();
  sessionStorage.setItem('m3ret-token', token);
  loadInfo();
  if (lastFile) query(lastFile);
});
$('viewer-close').addEventListener('click', () => { $('viewer').hidden = true; });
$('viewer').addEventListener('click', (e) => { if (e.target === $('viewer')) $('viewer').hidden = true; });
document.addEventListener('keydown', (e) => { if (e.key === 'Escape') $('viewer').hidden = true; });
loadInfo();

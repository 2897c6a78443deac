// Small DOM helpers shared by every page.

/** Creates an element: h('button', {class: 'ghost', onclick: f}, 'Run'). Props starting with "on" become listeners,
 *  `dataset` and `style` objects are merged, null/undefined/false children are skipped. */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'dataset' || key === 'style') Object.assign(el[key], value);
    else if (key === 'class') el.className = value;
    else if (key in el && typeof value !== 'string') el[key] = value;
    else el.setAttribute(key, value === true ? '' : value);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/** Removes every child of `el`. */
export function clear(el) {
  el.replaceChildren();
  return el;
}

/** A message box: kind is 'error', 'empty' or 'info'. Tests find it by its `data-notice` attribute. */
export function notice(kind, text) {
  return h('div', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status', dataset: { notice: kind } }, text);
}

/** Shows `notice(kind, text)` as the only content of `el`. */
export function showNotice(el, kind, text) {
  clear(el).append(notice(kind, text));
}

/** Calls `fn` once calls have stopped for `ms` milliseconds. */
export function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

export function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** `text` with every match of `pattern` (a RegExp with the g flag, or null) wrapped in <mark>. */
export function highlight(text, pattern) {
  if (!pattern) return document.createTextNode(text);
  const fragment = document.createDocumentFragment();
  let last = 0;
  pattern.lastIndex = 0;
  for (let m = pattern.exec(text); m; m = pattern.exec(text)) {
    if (m[0].length === 0) { pattern.lastIndex++; continue; }
    if (m.index > last) fragment.append(text.slice(last, m.index));
    fragment.append(h('mark', {}, m[0]));
    last = m.index + m[0].length;
  }
  if (last < text.length) fragment.append(text.slice(last));
  return fragment;
}

/** Runs `run` on Enter in `input` (Ctrl/Cmd+Enter in a textarea, where Enter without Shift also runs). */
export function onEnter(input, run) {
  input.addEventListener('keydown', (event) => {
    if (event.key !== 'Enter' || event.isComposing || event.shiftKey) return;
    event.preventDefault();
    run();
  });
}

/**
 * Autocomplete under a text input or textarea. `complete(text, caret)` returns
 * `{ items: [string], from, to }` (the part of the text an item replaces) or null; it may be async.
 * Arrow keys move, Tab or Enter with an open list accepts, Escape closes. Returns the wrapper element,
 * which must take the input's place in the DOM.
 */
export function autocomplete(input, complete) {
  const list = h('ul', { role: 'listbox', hidden: true });
  const wrapper = h('div', { class: 'suggest' }, input, list);
  let state = null;
  let selected = 0;
  let generation = 0;

  const close = () => { list.hidden = true; state = null; };
  const render = () => {
    clear(list);
    state.items.forEach((item, i) => {
      list.append(h('li', {
        role: 'option', 'aria-selected': String(i === selected),
        onmousedown: (event) => { event.preventDefault(); selected = i; accept(); },
      }, item));
    });
    list.hidden = state.items.length === 0;
    list.children[selected]?.scrollIntoView({ block: 'nearest' });
  };
  const accept = () => {
    if (!state) return false;
    const item = state.items[selected];
    const text = input.value;
    input.value = text.slice(0, state.from) + item + text.slice(state.to);
    const caret = state.from + item.length;
    input.setSelectionRange(caret, caret);
    close();
    input.dispatchEvent(new Event('input', { bubbles: true }));
    return true;
  };
  const refresh = debounce(async () => {
    const mine = ++generation;
    let result = null;
    try {
      result = await complete(input.value, input.selectionStart ?? input.value.length);
    } catch {
      result = null;
    }
    if (mine !== generation) return;
    if (!result || result.items.length === 0) { close(); return; }
    state = { ...result, items: result.items.slice(0, 200) };
    selected = 0;
    render();
  }, 120);

  input.addEventListener('input', (event) => { if (event.isTrusted) refresh(); });
  input.addEventListener('blur', () => setTimeout(close, 100));
  input.addEventListener('keydown', (event) => {
    if (!state || list.hidden) return;
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      const n = state.items.length;
      selected = (selected + (event.key === 'ArrowDown' ? 1 : n - 1)) % n;
      render();
    } else if (event.key === 'Tab' || event.key === 'Enter') {
      if (accept()) { event.preventDefault(); event.stopImmediatePropagation(); }
    } else if (event.key === 'Escape') {
      close();
    }
  }, true);
  return wrapper;
}

/** Triggers a download of `text` as a file named `name`. */
export function download(name, text, type = 'text/plain') {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = h('a', { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

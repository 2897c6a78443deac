// The shell: navigation, theme, token button, and mounting the page the URL names.
// A page module's default export is `{id, title, mount(root, route), unmount?()}`; `mount` reads its state from
// `route.params` (see state.js) and saves it back with saveRoute when the user runs a query.

import { h, clear, notice } from './dom.js';
import { askForToken, setToken, token } from './api.js';
import { currentRoute, hashChangedExternally, markRendered } from './state.js';
import pages from './pages/index.js';

const root = document.getElementById('page');
const nav = document.getElementById('nav');
let mounted = null;

for (const page of pages) {
  nav.append(h('a', { href: `#/${page.id}`, dataset: { page: page.id } }, page.title));
}

function render() {
  if (!hashChangedExternally()) return;
  const route = currentRoute();
  const page = pages.find((p) => p.id === route.page);
  if (!page) {
    if (pages.length > 0) location.replace(`#/${pages[0].id}`);
    return;
  }
  markRendered();
  mounted?.unmount?.();
  clear(root);
  for (const link of nav.children) {
    if (link.dataset.page === page.id) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  document.title = `${page.title} · Sightline`;
  mounted = page;
  try {
    const result = page.mount(root, route);
    if (result && typeof result.catch === 'function') {
      result.catch((error) => root.append(notice('error', `This page failed: ${error.message}`)));
    }
  } catch (error) {
    root.append(notice('error', `This page failed: ${error.message}`));
  }
}

window.addEventListener('hashchange', render);
window.addEventListener('popstate', render);

const themeToggle = document.getElementById('theme-toggle');
function showTheme() {
  const dark = document.documentElement.dataset.theme === 'dark';
  themeToggle.textContent = dark ? 'Light theme' : 'Dark theme';
}
themeToggle.addEventListener('click', () => {
  const next = document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark';
  document.documentElement.dataset.theme = next;
  localStorage.setItem('sightline.theme', next);
  showTheme();
  document.dispatchEvent(new Event('themechange'));
});
showTheme();

const tokenButton = document.getElementById('token-button');
tokenButton.hidden = !token();
tokenButton.addEventListener('click', async () => {
  setToken('');
  if (await askForToken('Enter the token to use from now on.')) {
    markRendered();
    location.reload();
  }
});

render();

import { html, type Html } from './html.template.js';
import { layout } from './page-layout.view.js';

export function renderLogin(next: string, error: string | null): Html {
  return layout(
    { title: 'Sign in' },
    html`<h1>Sign in</h1>
<p>These pages need the read token (<code>MXWATCH_READ_TOKEN</code>) or the API token (<code>MXWATCH_API_TOKEN</code>).</p>
${error ? html`<p class="error" role="alert">${error}</p>` : null}
<form class="login" method="post" action="/login">
<input type="hidden" name="next" value="${next}">
<label>Token<input type="password" name="token" autocomplete="current-password" required autofocus></label>
<button type="submit">Sign in</button>
</form>`,
  );
}

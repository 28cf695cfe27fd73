// The admin token the guarded actions (roll back, promote, start a run) need: asked once when the API
// answers 401 (none sent) or 403 (a wrong one), kept in sessionStorage for this tab only.
const KEY = 'adminToken';

/** The authorization header to send, if a token was given in this tab. */
export function adminHeaders() {
  const token = sessionStorage.getItem(KEY);
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** After a 401 or 403, asks for the token; true when one was given (retry the request). */
export function askAdminToken(status) {
  if (status !== 401 && status !== 403) return false;
  const given = window.prompt(
    status === 403
      ? 'That admin token was refused. Admin token (npm start prints where it is stored, .local/admin-token):'
      : 'This action needs the admin token (npm start prints where it is stored, .local/admin-token):',
  );
  if (!given) return false;
  sessionStorage.setItem(KEY, given.trim());
  return true;
}

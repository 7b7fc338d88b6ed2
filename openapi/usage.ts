// A few lines of the generated client used as an application would: it
// type-checks under strict only if the document's contract is the one a
// SimpleJWT frontend relies on (refresh is in the default login answer).
import { client } from './gen/client.gen';
import { getMe, obtainToken, refreshToken, type TokenPair } from './gen';

client.setConfig({ baseUrl: 'http://localhost:8000' });

export async function logIn(username: string, password: string): Promise<TokenPair> {
  const { data, error } = await obtainToken({ body: { username, password } });
  if (error || !data) throw new Error(JSON.stringify(error));
  const pair: TokenPair = data;
  const refresh: string = pair.refresh; // required in the default contract
  const rotated = await refreshToken({ body: { refresh } });
  if (rotated.data) {
    const next: string = rotated.data.refresh;
    void next;
  }
  const me = await getMe({ headers: { Authorization: `Bearer ${pair.access}` } });
  if (me.data) {
    const name: string = me.data.username;
    void name;
  }
  return pair;
}

// Signs the requests read from stdin (a JSON array) with the console's
// signer and prints, as JSON, the query string it sends and the headers it
// adds. Used by signer_test.go to compare with aws-sdk-go-v2's signer.
import { sign, queryString } from "../static/js/sigv4.js";

let input = "";
for await (const chunk of process.stdin) input += chunk;
const out = [];
for (const v of JSON.parse(input)) {
  const headers = await sign(
    { method: v.method, host: v.host, path: v.path, query: v.query, headers: v.headers, body: v.body },
    v.credentials,
    { region: v.region, service: v.service, date: new Date(v.date) },
  );
  out.push({ rawQuery: queryString(v.query), headers });
}
process.stdout.write(JSON.stringify(out));

// routes.js: nginx's route lookup (njs 0.7.9, http and stream js_set).
// Input: the visitor's host name, the Host header on :80 ($host) or the TLS
// SNI on :443 ($ssl_preread_server_name), and $link_routes, the folder of
// route files linkgate writes (one per link, named after it, replaced by
// rename; made by the routes helper, never computed here).
// Output: on :80 the link's upstream block name ("link_7"), on :443 its
// address ("198.18.0.30:443"); "" for a name no link serves or a name that
// is not a valid host name (nginx then answers 404 or closes).
//
// A route file is one line: UPSTREAM ADDRESS:443 WILDCARD [[ADDRESS6]:443],
// e.g. "link_7 198.18.0.30:443 1"; the fourth field, the link's veth IPv6
// address, only when its home speaks IPv6 (an IPv6 visitor then goes there,
// from its own address: routes.bind6). A name is served by its own link, or else by
// the nearest parent name that has a link, if that link is a wildcard one.
//
// The name is folded (lower case, one trailing dot dropped: browsers keep
// it in Host) and checked like helpers/common.c host_check (a-z, 0-9, '-',
// labels of 1-63, 2 labels at least, at most 253 characters) before any
// file is opened, so "../x" or "/" can never reach a path. A wildcard
// lookup tries at most PARENTS_MAX parent names (a wildcard link serves
// names up to that many labels below its own), so one request opens at
// most PARENTS_MAX + 1 files.
import fs from 'fs';

const HOST_MAX = 253;
const PARENTS_MAX = 8;
// Labels of 1-63 of a-z, 0-9 and '-' (not first or last), two at least;
// the last one has a letter.
const NAME = /^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const LAST_HAS_LETTER = /[a-z][a-z0-9-]*$/;
const ROUTE = /^(link_[1-9][0-9]{0,4}) ([0-9]{1,3}(\.[0-9]{1,3}){3}:443) ([01])( \[[0-9a-f:]{2,39}\]:443)?\n$/;

// fold: the host name to look up, or null when it is not a valid one.
// One regular expression, no split: this runs on every request.
function fold(name) {
	if (typeof name !== 'string' || name.length === 0 ||
	    name.length > HOST_MAX + 1)
		return null;
	let s = name.toLowerCase();
	if (s[s.length - 1] === '.')
		s = s.slice(0, -1);
	if (s.length > HOST_MAX || !NAME.test(s) || !LAST_HAS_LETTER.test(s))
		return null;
	return s;
}

// route: [upstream, address, wildcard, address6 or ""] from the route file
// of one name,
// or null when there is none (or it is not well formed).
function route(dir, name) {
	let text;
	try {
		text = fs.readFileSync(dir + '/' + name, 'utf8');
	} catch (e) {
		return null;
	}
	const m = ROUTE.exec(text);
	return m ? [m[1], m[2], m[4] === '1', m[5] ? m[5].slice(1) : ''] : null;
}

function lookup(dir, host) {
	let name = fold(host);
	if (!name || !dir)
		return null;
	let r = route(dir, name);
	if (r)
		return r;
	// Parents keep at least two labels: a link name has a dot.
	for (let i = 0; i < PARENTS_MAX; i++) {
		name = name.slice(name.indexOf('.') + 1);
		if (name.indexOf('.') < 0)
			return null;
		r = route(dir, name);
		// The nearest existing link decides, as a DNS wildcard stops at
		// the closest name that exists (RFC 4592): a link that is not a
		// wildcard one hides a wildcard further up (another key's).
		if (r)
			return r[2] ? r : null;
	}
	return null;
}

// http: js_set $link_http routes.http;
function http(r) {
	const found = lookup(r.variables.link_routes, r.variables.host);
	return found ? found[0] : '';
}

// pick: js_set $link_pick routes.pick (stream): the one route lookup of a
// connection on :443, "ADDRESS" or, for an IPv6 visitor of a link with an
// IPv6 address, "[ADDRESS6]:443 VISITOR" (where to connect and from which
// address); "" for no link. Read only through routes.stream and
// routes.bind6, never by a directive of its own: nginx keeps a js_set
// variable's value for the rest of the session once read (no "nocache"
// flag), so both see one version of the route file, even while linkgate
// replaces it (a home flipping IPv6 on and off). Read after ssl_preread
// has read the SNI (by proxy_bind, then proxy_pass; a directive of an
// earlier phase, like limit_conn, would see no name yet and keep "").
function pick(s) {
	const found = lookup(s.variables.link_routes,
			     s.variables.ssl_preread_server_name);
	if (!found)
		return '';
	const a = s.variables.remote_addr;
	if (found[3] && a.indexOf(':') >= 0)
		return found[3] + ' ' + a;
	return found[1];
}

// stream: js_set $link_stream routes.stream; only read by proxy_pass:
// where the connection goes, from routes.pick.
function stream(s) {
	const p = s.variables.link_pick;
	const i = p.indexOf(' ');
	return i < 0 ? p : p.slice(0, i);
}

// bind6: js_set $link_bind6 routes.bind6 (stream), read only for an IPv6
// visitor (a map gives an IPv4 visitor its own address): the address
// proxy_bind makes the source of the connection to the link, the
// visitor's own when routes.pick sends it to the link's IPv6 address,
// else "" (nginx's own veth address: an IPv6 source cannot reach the
// link's IPv4).
function bind6(s) {
	const p = s.variables.link_pick;
	const i = p.indexOf(' ');
	return i < 0 ? '' : p.slice(i + 1);
}

// visitor: js_set $link_visitor6 routes.visitor (http and stream), read
// only for an IPv6 visitor (a map picks $binary_remote_addr for IPv4): the
// visitor's /64, as text ("2001:db8:0:7"), the per-visitor caps' key. One
// subscriber or host gets a /64 (or more) where it gets one IPv4 address,
// so a cap per IPv6 address would be no cap. nginx prints $remote_addr in
// the RFC 5952 form: at most one "::", no IPv4 tail (the [::] sockets are
// ipv6only). At least 7 characters: never equal to a 4-byte IPv4 key.
function visitor(r) {
	const a = r.variables.remote_addr;
	const i = a.indexOf('::');
	let g;
	if (i < 0) {
		g = a.split(':');
	} else {
		const left = i > 0 ? a.slice(0, i).split(':') : [];
		const right = i + 2 < a.length ? a.slice(i + 2).split(':') : [];
		g = left;
		for (let n = left.length + right.length; n < 8; n++)
			g.push('0');
		g = g.concat(right);
	}
	return g.slice(0, 4).join(':');
}

export default { http, pick, stream, bind6, fold, visitor };

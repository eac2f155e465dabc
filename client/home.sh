# shellcheck shell=sh
# Checks shared by the home side's commands (bin/link, client/link-client),
# sourced, POSIX sh. Each returns 0 when the value is good, 1 when not, and
# prints nothing; the caller words the error. Nothing here changes the
# system. A gateway's answer and a .env file are untrusted input: these
# checks stand between them and the home's interfaces, routes and shell.

# ipv4_check VALUE: a dotted quad, four decimal numbers 0-255 without
# leading zeros (999.999.0.6 and 010.0.0.1 are refused).
ipv4_check() {
	local ifs o
	case $1 in '' | *[!0-9.]* | .* | *. | *..*) return 1 ;; esac
	ifs=$IFS
	IFS=.
	# shellcheck disable=SC2086 # split on dots
	set -- $1
	IFS=$ifs
	[ $# -eq 4 ] || return 1
	for o in "$@"; do
		case $o in 0?*) return 1 ;; esac
		[ ${#o} -le 3 ] && [ "$o" -le 255 ] || return 1
	done
}

# ipv4_int ADDRESS: the address as a 32-bit number (checked first).
ipv4_int() {
	echo "$1" | awk -F. '{ printf "%.0f\n", (($1 * 256 + $2) * 256 + $3) * 256 + $4 }'
}

# private_check ADDRESS: whether ADDRESS is in a range no public host
# uses, where a gateway's tunnel pool must be: 10.0.0.0/8, 172.16.0.0/12,
# 192.168.0.0/16 (RFC 1918), 100.64.0.0/10 (RFC 6598) or 198.18.0.0/15
# (RFC 2544, the default pool). A public address would shadow that host
# for the home (a DNS resolver, say); loopback, link-local, multicast and
# reserved ones would break the home's own networking.
private_check() {
	case $1 in
	10.* | 192.168.* | 172.1[6-9].* | 172.2[0-9].* | 172.3[01].*) ;;
	100.6[4-9].* | 100.[7-9][0-9].* | 100.1[01][0-9].* | 100.12[0-7].*) ;;
	198.18.* | 198.19.*) ;;
	*) return 1 ;;
	esac
}

# tunnel_pair_check CLIENT GATEWAY: the two tunnel addresses of one link
# as a gateway hands them out: one /30 of its tunnel pool per link, the
# gateway's end at offset 1 and the home's at offset 2 (README, the link
# record), in a private range. Anything else did not come from a linkgate
# gateway.
tunnel_pair_check() {
	local c g
	ipv4_check "$1" && ipv4_check "$2" || return 1
	private_check "$1" || return 1
	c=$(ipv4_int "$1")
	g=$(ipv4_int "$2")
	[ "$((c % 4))" -eq 2 ] && [ "$((c - 1))" -eq "$g" ]
}

# address_taken ADDRESS: whether the home already uses ADDRESS: an address
# of one of its interfaces, or inside any route of any table. Routes
# shorter than /8 do not count: they stand for the internet at large, as
# the default route does (a full-tunnel VPN's 0.0.0.0/1 and 128.0.0.0/1).
# A tunnel address there would pull the home's own traffic into the
# tunnel.
address_taken() {
	local a
	a=$(ipv4_int "$1")
	LC_ALL=C ip -4 -o route show table all 2>/dev/null | awk -v a="$a" '
		function num(s, p) { split(s, p, "."); return ((p[1] * 256 + p[2]) * 256 + p[3]) * 256 + p[4] }
		{
			i = 1
			if ($1 ~ /^(unicast|local|broadcast|anycast|multicast|blackhole|unreachable|prohibit|throw|nat)$/) i = 2
			dst = $i
			if (dst == "default" || dst == "0.0.0.0/0") next
			len = 32
			if (index(dst, "/")) { len = substr(dst, index(dst, "/") + 1); dst = substr(dst, 1, index(dst, "/") - 1) }
			if (dst !~ /^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$/ || len + 0 < 8) next
			size = 2 ^ (32 - len)
			net = num(dst) - num(dst) % size
			if (a >= net && a < net + size) { found = 1; exit }
		}
		END { exit found ? 0 : 1 }'
}

# allow_parse DOMAIN LIST: LIST, the names a wildcard link for DOMAIN may
# get certificates for: comma-separated entries NAME (that name) or
# *.NAME (every name under NAME), each NAME DOMAIN itself or a name under
# it, at most 100 entries. Sets ALLOW_NAMES (the NAME entries other than
# DOMAIN) and ALLOW_UNDER (the NAMEs of the *. entries), each lower case,
# space-separated, without repeats, and ALLOW_LIST (LIST in lower case,
# as a .env carries it); on a bad entry returns 1 with the reason in
# ALLOW_WHY. Needs $BUILD/routemap (host names). '*' is data: the list is
# split with globbing off.
# shellcheck disable=SC2034 # the callers read the ALLOW_ variables
allow_parse() {
	local entry base name count=0 IFS
	ALLOW_NAMES='' ALLOW_UNDER='' ALLOW_LIST='' ALLOW_WHY=''
	case $2 in
	'' | ,* | *, | *,,*) ALLOW_WHY="'$2' has an empty entry"; return 1 ;;
	*[!A-Za-z0-9.,*-]*) ALLOW_WHY="'$2' has characters outside A-Z a-z 0-9 . , * -"; return 1 ;;
	esac
	set -f
	IFS=,
	for entry in $2; do
		count=$((count + 1))
		if [ "$count" -gt 100 ]; then
			ALLOW_WHY="more than 100 entries"
			set +f
			return 1
		fi
		base=${entry#\*.}
		if ! name=$("$BUILD/routemap" host "$base" 2>&1); then
			ALLOW_WHY="entry '$entry': ${name#routemap: }"
			set +f
			return 1
		fi
		case $name in
		"$1" | *".$1") ;;
		*)
			ALLOW_WHY="entry '$entry' is not $1 or a name under it"
			set +f
			return 1
			;;
		esac
		if [ "$base" != "$entry" ]; then
			ALLOW_LIST="${ALLOW_LIST:+$ALLOW_LIST,}*.$name"
			case " $ALLOW_UNDER " in *" $name "*) ;; *) ALLOW_UNDER=${ALLOW_UNDER:+$ALLOW_UNDER }$name ;; esac
		else
			ALLOW_LIST=${ALLOW_LIST:+$ALLOW_LIST,}$name
			if [ "$name" != "$1" ]; then
				case " $ALLOW_NAMES " in *" $name "*) ;; *) ALLOW_NAMES=${ALLOW_NAMES:+$ALLOW_NAMES }$name ;; esac
			fi
		fi
	done
	set +f
}

# hostport_parse VALUE [--public]: VALUE as HOST:PORT, where HOST is a
# name (labels of A-Z a-z 0-9 _ -), an IPv4 address, or an IPv6 address in
# brackets ([2001:db8::1]:22; brackets are needed, since an IPv6 address
# holds colons). Sets HP_HOST (an IPv6 address without brackets, in the
# canonical form of routemap ip6), HP_PORT (1-65535) and HP_V6 (1 for
# IPv6); with --public a loopback or unspecified address is refused too
# (IPv4 here, IPv6 by routemap ip6
# --public: a gateway is another machine). On a bad value returns 1 with
# the reason in HP_WHY. Needs $BUILD/routemap.
# shellcheck disable=SC2034 # the callers read the HP_ variables
hostport_parse() {
	local h p out
	HP_HOST='' HP_PORT='' HP_V6=0 HP_WHY=''
	case $1 in
	\[*\]:*)
		h=${1%\]:*} h=${h#\[} p=${1##*\]:}
		case $h in *\[* | *\]*) HP_WHY="brackets inside the brackets"; return 1 ;; esac
		if ! out=$("$BUILD/routemap" ip6 ${2:+"$2"} "$h" 2>&1); then
			HP_WHY=${out#routemap: }
			return 1
		fi
		h=$out HP_V6=1
		;;
	*\[* | *\]*) HP_WHY="'$1': an IPv6 address goes in brackets before the port ([2001:db8::1]:PORT)"; return 1 ;;
	*:*:*) HP_WHY="'$1' has more than one ':' (an IPv6 address goes in brackets: [2001:db8::1]:PORT)"; return 1 ;;
	*:*)
		h=${1%:*} p=${1##*:}
		case $h in
		'' | -* | .* | *. | *..* | *[!A-Za-z0-9._-]*) HP_WHY="bad host '$h'"; return 1 ;;
		esac
		[ ${#h} -le 253 ] || { HP_WHY="host longer than 253 characters"; return 1; }
		# As ::1 and :: are refused for IPv6 (routemap ip6 --public).
		if [ "${2:-}" = --public ]; then
			case $h in
			*[!0-9.]*) ;;
			127.* | 0.0.0.0) HP_WHY="'$h' is a loopback or unspecified address: not one to reach a gateway at"; return 1 ;;
			esac
		fi
		;;
	*) HP_WHY="'$1' has no :PORT"; return 1 ;;
	esac
	case $p in
	'' | *[!0-9]* | 0*) HP_WHY="bad port '$p': 1-65535"; return 1 ;;
	esac
	if [ ${#p} -gt 5 ] || [ "$p" -gt 65535 ]; then
		HP_WHY="bad port '$p': 1-65535"
		return 1
	fi
	HP_HOST=$h HP_PORT=$p
}

# hostport_join HOST PORT: HOST:PORT, an IPv6 HOST in brackets.
hostport_join() {
	case $1 in
	*:*) echo "[$1]:$2" ;;
	*) echo "$1:$2" ;;
	esac
}

# IP6_HEX_AWK: an awk function, hex6(ADDRESS): an IPv6 address written
# with hex groups only (no dotted quad) as 32 lower-case hex digits.
IP6_HEX_AWK='
function hex6(s,   left, right, i, k, nl, nr, l, r, out) {
	s = tolower(s); left = s; right = ""
	i = index(s, "::")
	if (i) { left = substr(s, 1, i - 1); right = substr(s, i + 2) }
	nl = left == "" ? 0 : split(left, l, ":")
	nr = right == "" ? 0 : split(right, r, ":")
	out = ""
	for (k = 1; k <= nl; k++) out = out substr("0000", 1, 4 - length(l[k])) l[k]
	for (k = nl + nr; k < 8; k++) out = out "0000"
	for (k = 1; k <= nr; k++) out = out substr("0000", 1, 4 - length(r[k])) r[k]
	return out
}'

# ip6_hex ADDRESS: the address as 32 hex digits (hex6 above).
ip6_hex() {
	echo "$1" | awk "$IP6_HEX_AWK"'{ print hex6($0) }'
}

# tunnel6_pair_check CLIENT6 GATEWAY6: the two IPv6 tunnel addresses of
# one link as a gateway hands them out: each in routemap ip6's canonical
# form (no prefix length), a unique local address (fc00::/7, RFC 4193:
# the gateway's IPV6_POOL; a global address would shadow that host for
# the home, as private_check keeps IPv4 ones in private ranges), the two
# different and in one /126.
tunnel6_pair_check() {
	local a c g
	for a in "$1" "$2"; do
		[ "$("$BUILD/routemap" ip6 --public "$a" 2>/dev/null)" = "$a" ] || return 1
		case $a in f[cd]*) ;; *) return 1 ;; esac
	done
	[ "$1" != "$2" ] || return 1
	c=$(ip6_hex "$1")
	g=$(ip6_hex "$2")
	# 31 hex digits alike; of the last, the top two bits.
	[ "${c%?}" = "${g%?}" ] || return 1
	awk -v a="${c#"${c%?}"}" -v b="${g#"${g%?}"}" 'BEGIN {
		h = "0123456789abcdef"
		exit int((index(h, a) - 1) / 4) != int((index(h, b) - 1) / 4)
	}'
}

# address6_taken ADDRESS: address_taken for an IPv6 address (canonical):
# an address of one of the home's interfaces, or inside a route of any
# table; routes shorter than /8 do not count (the internet at large:
# ::/0, 2000::/3, a full-tunnel VPN's ::/1 and 8000::/1).
address6_taken() {
	local a
	a=$(ip6_hex "$1")
	LC_ALL=C ip -6 -o addr show 2>/dev/null | awk -v a="$1" '
		{ split($4, p, "/"); if (p[1] == a) { found = 1; exit } }
		END { exit found ? 0 : 1 }' && return 0
	LC_ALL=C ip -6 -o route show table all 2>/dev/null | awk -v a="$a" "$IP6_HEX_AWK"'
		{
			i = 1
			if ($1 ~ /^(unicast|local|broadcast|anycast|multicast|blackhole|unreachable|prohibit|throw|nat)$/) i = 2
			dst = $i
			if (dst == "default" || dst == "::/0") next
			len = 128
			if (index(dst, "/")) { len = substr(dst, index(dst, "/") + 1) + 0; dst = substr(dst, 1, index(dst, "/") - 1) }
			if (dst !~ /^[0-9a-f:]+$/ || len < 8) next
			d = hex6(dst)
			n = int(len / 4)
			if (substr(d, 1, n) != substr(a, 1, n)) next
			if (len % 4) {
				h = "0123456789abcdef"
				s = 2 ^ (4 - len % 4)
				if (int((index(h, substr(d, n + 1, 1)) - 1) / s) != int((index(h, substr(a, n + 1, 1)) - 1) / s)) next
			}
			found = 1
			exit
		}
		END { exit found ? 0 : 1 }'
}

# ipv6_here: whether this machine speaks IPv6: the kernel has it
# (/proc/net/if_inet6) and it is not switched off for every interface
# (net.ipv6.conf.all.disable_ipv6=1, which new interfaces take too).
ipv6_here() {
	[ -e /proc/net/if_inet6 ] || return 1
	[ "$(cat /proc/sys/net/ipv6/conf/all/disable_ipv6 2>/dev/null)" != 1 ]
}

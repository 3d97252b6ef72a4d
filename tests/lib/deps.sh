# tests/lib/deps.sh: the Debian packages blobmill needs to build, test and
# run its demo, installed when missing (root only; otherwise it says what
# to install). One list for the test command and the demo.

BM_DEB_PACKAGES="autoconf automake pkg-config make gcc python3 curl \
libfuse3-dev fuse3 libcurl4-openssl-dev libssl-dev libxml2-dev \
libjansson-dev libyaml-dev libcmocka-dev valgrind clang time \
podman runc busybox-static bubblewrap util-linux procps psmisc openssl"

deps_install() {
	local missing=() p
	# Node.js may come from elsewhere (it bundles npm): only ask for
	# Debian's when there is none.
	command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
	for p in $BM_DEB_PACKAGES ${BM_EXTRA_PACKAGES:-}; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q 'ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "missing packages: ${missing[*]} (run as root, or apt-get install them)" >&2
		return 1
	fi
	echo "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
